"""The headline comparison: no penalty, the paper's form, the recommended form and the peer, as tuned.

The README's first command (examples/compare_penalties.py) builds and
trains the 784 -> 100 -> 784 sigmoid autoencoder of the dense-autoencoder
study (the model of `keras_entropy.experiments.autoencoder_study.study_run`,
written out in the script) in four configurations, each at the
hyperparameters the study chose for it by a grid search on a validation
split of the full MNIST training set (docs/results/dense_autoencoder_study,
width 100; never on the images this comparison reports):

- `none`: no penalty, Adam learning rate 1e-2;
- `paper`: `DenseEntropy(1e-2)` (the paper's form) on the decoder kernel;
- `normalized`: `DenseEntropy(1e-2, form="normalized")` on the encoder
  kernel (MATH.md section 10), the form the study found to help;
- `orthogonal`: `keras.regularizers.OrthogonalRegularizer(0.1)` on the
  encoder kernel, the nearest peer.

`TUNED` holds those choices (tests/test_compare_penalties.py checks them
against the study's committed trials); `configs` turns them into run
configs (the script's `train(config, seed)` reads them, as
`autoencoder_study.study_run` does); `summary_lines` writes summary.md.
"""

from keras_entropy import validation
from keras_entropy.experiments import evidence

#: The study's width, and its chosen hyperparameters there (learning rate, strength, kernel).
WIDTH = 100
STUDY = "docs/results/dense_autoencoder_study"
TUNED = {
    evidence.BASELINE: {"learning_rate": 1e-2, "lam": 0.0, "placement": evidence.NO_PLACEMENT},
    "paper": {"learning_rate": 1e-2, "lam": 1e-2, "placement": "decoder"},
    "normalized": {"learning_rate": 1e-2, "lam": 1e-2, "placement": "encoder"},
    evidence.PEER: {"learning_rate": 1e-2, "lam": 0.1, "placement": "encoder"},
}
#: What each configuration is, in words (summary.md).
DESCRIPTIONS = {
    evidence.BASELINE: "no penalty",
    "paper": "`DenseEntropy(lam)`, the paper's form (MATH.md section 4)",
    "normalized": '`DenseEntropy(lam, form="normalized")`, the normalized volume (MATH.md section 10)',
    evidence.PEER: "`keras.regularizers.OrthogonalRegularizer(lam)`, the peer",
}


def configs(epochs, batch_size=256, penalties=tuple(TUNED), patience=7, **fixed):
    """Run configs (`autoencoder_study.study_run`'s fields): each of `penalties` at its `TUNED` hyperparameters.

    >>> [c["penalty"] for c in configs(3)]
    ['none', 'paper', 'normalized', 'orthogonal']
    >>> configs(3)[2]["placement"], configs(3)[2]["lam"]
    ('encoder', 0.01)
    """
    epochs = validation.validate_positive_int(epochs, "epochs")
    batch_size = validation.validate_positive_int(batch_size, "batch_size")
    for penalty in penalties:
        validation.validate_choice(penalty, "penalties", tuple(TUNED))
    return [
        {
            "experiment": "compare_penalties",
            "latent_dim": WIDTH,
            "penalty": penalty,
            **TUNED[penalty],
            "epochs": epochs,
            "batch_size": batch_size,
            "patience": patience,
            **fixed,
        }
        for penalty in penalties
    ]


def summary_lines(title, command, data_text, settings, sentence, table, figure, note=None):
    """summary.md: the command, the setup, the sentence, the verdict table and the figure."""
    hyper = "; ".join(
        f"`{p}`: {DESCRIPTIONS[p]}, learning rate {TUNED[p]['learning_rate']:g}"
        + (f", lam {TUNED[p]['lam']:g} on the {TUNED[p]['placement']} kernel" if p != evidence.BASELINE else "")
        for p in settings["penalties"]
    )
    lines = (
        [f"# {title}", ""]
        + ([f"> **Note:** {note}", ""] if note else [])
        + [
            "Command:",
            "",
            f"    {command}",
            "",
            "## Setup",
            "",
            f"- Data: {data_text}",
            f"- Model: 784 -> {WIDTH} -> 784, sigmoid both layers, MSE, Adam, batch {settings['batch_size']}, "
            f"{settings['epochs']} epochs, no early stopping; seeds {settings['seed']} .. "
            f"{settings['seed'] + settings['seeds'] - 1}.",
            f"- Configurations, at the hyperparameters the dense-autoencoder study chose on a validation split of the "
            f"full MNIST training set ({STUDY}, width {WIDTH}): {hyper}.",
            "- Final quality: the test MSE after the last epoch (the reconstruction error alone: Keras adds kernel "
            "penalties to `loss`), mean [95% t-interval], and its difference from no penalty [95% Welch interval]. "
            "Epochs to no penalty's median final test MSE: the first epoch at or below the median over its seeds; "
            'a run that never gets there is censored at its last epoch ("never"), and the cell is the '
            'Kaplan-Meier median [95% interval], "not reached" where the runs did not get that far. p: one-tailed '
            "Welch t-tests for the test MSE, the exact permutation log-rank test for the epochs, both directions; "
            "`adj`: Benjamini-Hochberg adjusted over every p-value of the table, which the sentence uses.",
            "",
            "## Verdict",
            "",
            sentence,
            "",
            table,
            "",
            f"![{figure}]({figure})",
            "",
        ]
    )
    return lines


__all__ = ["DESCRIPTIONS", "STUDY", "TUNED", "WIDTH", "configs", "summary_lines"]
