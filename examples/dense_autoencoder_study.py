"""Does an entropy penalty help a dense autoencoder on MNIST? A tuned comparison (issue 12, study 1).

Per latent width (784 -> width -> 784, sigmoid, MSE, Adam, batch 256) five
configurations: no penalty, DenseEntropy in the paper's, the volume and the
normalized form (MATH.md sections 8-10), and Keras's OrthogonalRegularizer
as a peer. A KerasTuner grid search on a validation split (the last
--val-size training images) chooses each one's learning rate and, for the
penalties, the strength and the kernel it goes on (encoder or decoder), by
the lowest validation MSE within --trial-epochs epochs (the MSE alone, not
val_loss, which includes the penalty). Each configuration then trains at
its chosen hyperparameters for --epochs epochs with --seeds seeds, without
early stopping; the paper's stopping rule (patience on val MSE and on val
loss) is replayed on the recorded histories. The test images are used only
for the final report.

    python examples/dense_autoencoder_study.py --quick          # seconds, on the embedded MNIST subset
    python examples/dense_autoencoder_study.py --data-dir ~/data/mnist --cpu-minutes 60
    python examples/dense_autoencoder_study.py --data-dir ~/data/mnist --report-only

Widths run one after another, each searched and then trained. Every
finished trial and run is on disk at once (tuner/, trials.jsonl,
results.jsonl in --out): the same command resumes without repeating any;
with --cpu-minutes no trial or run starts once the process has used that
much CPU time. summary.md, trials.csv and the figures are rewritten from
the records at the end of each width, and by --report-only alone.
"""

import math
import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, autoencoder_study, curves, evidence, script_setup, study, verdict  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The study's settings: option, help, --quick value; DEFAULTS otherwise.
SETTINGS = {
    "widths": Setting("latent widths, studied one after another (default 100 260)", nargs="+", minimum=1, quick=[8]),
    "penalties": Setting(
        "configurations (default: all of none paper volume normalized orthogonal)",
        str,
        nargs="+",
        choices=list(evidence.PENALTIES),
        metavar="PENALTY",
    ),
    "learning_rates": Setting(
        "Adam learning rates searched for every configuration (default 1e-3 3e-3 1e-2)", float, nargs="+", quick=[1e-2]
    ),
    "lams": Setting("DenseEntropy strengths searched (default 1e-4 1e-3 1e-2)", float, nargs="+", quick=[1e-2]),
    "factors": Setting("OrthogonalRegularizer factors searched (default 1e-2 1e-1 1)", float, nargs="+", quick=[1e-2]),
    "trial_epochs": Setting("epochs of each search trial (default 12)", minimum=1, quick=2),
    "epochs": Setting("epochs of each final run, no early stopping (default 60)", minimum=1, quick=3),
    "seeds": Setting("final runs per configuration, seeds --seed, --seed + 1, ... (default 5)", minimum=2, quick=2),
    "patience": Setting("patience of the paper's stopping rule, replayed on the histories (default 7)", minimum=1),
    "thresholds": Setting("validation MSEs whose epochs to reach are reported (default 0.01 0.006)", float, nargs="+"),
    "batch_size": Setting("default 256", minimum=1),
    "val_size": arguments.size_setting("validation = the last N training images (default 10000)", quick=200),
    "train_size": arguments.size_setting("use the first N of the other training images (default: all)", quick=500),
    "test_size": arguments.size_setting("use the first N test images (default: all)", quick=200),
    "search_seed": Setting(
        "seed of every search trial's weights (default 1000, apart from the final runs')", minimum=0
    ),
}
DEFAULTS = {
    "widths": [100, 260],
    "penalties": list(evidence.PENALTIES),
    "learning_rates": [1e-3, 3e-3, 1e-2],
    "lams": [1e-4, 1e-3, 1e-2],
    "factors": [1e-2, 1e-1, 1.0],
    "trial_epochs": 12,
    "epochs": 60,
    "seeds": 5,
    "patience": 7,
    "thresholds": [0.01, 0.006],
    "batch_size": 256,
    "val_size": 10000,
    "search_seed": 1000,
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser,
        ["mnist"],
        "mnist",
        settings=SETTINGS,
        run_name="dense_autoencoder_study",
        writes="tuner/, trials.jsonl, trials.csv, figures",
        mixed_precision=False,
    )
    study.add_budget_argument(parser)
    return parser.parse_args(argv)


def hypermodel_for(settings, width, penalty, input_dim):
    """The KerasTuner hypermodel of one configuration: learning rate, and strength and kernel for a penalty."""
    from keras_entropy import tuning

    def build(hp):
        learning_rate = hp.Choice("learning_rate", settings["learning_rates"])
        if penalty != evidence.PEER:  # the entropy penalties are placed by EntropySearch
            return autoencoder_study.study_autoencoder(input_dim, width, learning_rate=learning_rate)
        factor, placement = hp.Choice("factor", settings["factors"]), hp.Choice("placement", evidence.PLACEMENTS)
        return autoencoder_study.study_autoencoder(input_dim, width, penalty, factor, placement, learning_rate)

    dense = (
        None
        if penalty in (evidence.BASELINE, evidence.PEER)
        else tuning.EntropySearch(lam=settings["lams"], placement={p: [p] for p in evidence.PLACEMENTS}, form=penalty)
    )
    return tuning.EntropyHyperModel(build, dense=dense, seeds=settings["search_seed"], name=f"{penalty}_{width}")


def search(run, settings, arrays, width, penalty, deadline):
    """Grid-search one configuration (resuming its KerasTuner project); export its trials. False: time is up."""
    from keras_entropy import tuning

    fixed = {"latent_dim": width, "penalty": penalty, "trial_epochs": settings["trial_epochs"]}
    if penalty == evidence.BASELINE:
        fixed.update(lam=0.0, placement=evidence.NO_PLACEMENT)
    elif penalty in evidence.FORMS and len(settings["lams"]) == 1:  # a single lam is no hyperparameter
        fixed["lam"] = settings["lams"][0]
    x_train, x_val, _ = arrays
    return tuning.grid_search(
        hypermodel_for(settings, width, penalty, x_train.shape[1]),
        tuning.objective("val_mse"),
        run.path("tuner"),
        f"width_{width}_{penalty}",
        dict(
            x=x_train,
            y=x_train,
            validation_data=(x_val, x_val),
            epochs=settings["trial_epochs"],
            batch_size=settings["batch_size"],
        ),
        deadline_s=deadline,
        export_to=run.path("trials.jsonl"),
        fixed=fixed,
        drop=("dense_form",),
        rename={"dense_lam": "lam", "dense_placement": "placement", "factor": "lam"},
        seed=settings["search_seed"],
        label=f"width {width}, {penalty}",
    )


def grid_size(settings, penalty):
    lrs = len(settings["learning_rates"])
    if penalty == evidence.BASELINE:
        return lrs
    return lrs * len(evidence.PLACEMENTS) * len(settings["factors" if penalty == evidence.PEER else "lams"])


def current_trials(run, settings):
    """The exported trials of this search space (its widths, penalties, grids and trial epochs)."""
    from keras_entropy.experiments import sweeps

    def in_space(config):
        grid = (
            [0.0]
            if config["penalty"] == evidence.BASELINE
            else settings["factors" if config["penalty"] == evidence.PEER else "lams"]
        )
        return (
            config["latent_dim"] in settings["widths"]
            and config["penalty"] in settings["penalties"]
            and config["trial_epochs"] == settings["trial_epochs"]
            and config.get("lam", 0.0) in grid
            and config["learning_rate"] in settings["learning_rates"]
        )

    return [r for r in sweeps.load_records(run.path("trials.jsonl")) if in_space(r["config"])]


def final_configs(run, settings, arrays, trials):
    """The final runs' configs: each searched configuration at its chosen hyperparameters."""
    chosen = evidence.chosen_hyperparameters(trials)
    fixed = {
        "experiment": "dense_autoencoder_study",
        "dataset": run.data.name,
        "data_source": "embedded" if run.data.is_embedded else "full",
        "train_size": len(arrays[0]),
        "val_size": len(arrays[1]),
        "test_size": len(arrays[2]),
        **{k: settings[k] for k in ("epochs", "batch_size", "patience")},
    }
    counts = {}
    for r in trials:
        counts[r["config"]["latent_dim"], r["config"]["penalty"]] = (
            counts.get((r["config"]["latent_dim"], r["config"]["penalty"]), 0) + 1
        )
    return [
        {**fixed, "latent_dim": w, "penalty": p, **{k: chosen[w, p][k] for k in ("learning_rate", "lam", "placement")}}
        for w in settings["widths"]
        for p in settings["penalties"]
        if (w, p) in chosen and counts[w, p] >= grid_size(settings, p)
    ]


def train_final(settings, arrays, deadline, verbose):
    def train(config, seed):
        if study.time_is_up(deadline):
            raise study.TimeUp
        return autoencoder_study.study_run(config, seed, arrays, verbose=verbose)

    return train


def write_report(run, settings, trials, command):
    """summary.md, trials.csv and the figures from the records: the planned final runs and the current trials."""
    from keras_entropy.experiments import sweeps

    configs = final_configs(run, settings, run.arrays, trials)
    keys = {p["key"] for p in sweeps.plan_runs(configs, settings["seeds"], run.args.seed)} if configs else set()
    records = sweeps.load_records(run.results_path, keys)
    write_trials_csv(run.path("trials.csv"), trials, configs)
    figures = []
    if records:
        for metric, label in (("val_mse", "validation MSE"), ("test_mse", "test MSE")):
            figures.append(
                curves.plot_curves(
                    records,
                    run.path(f"{metric}_curves.png"),
                    metric,
                    label,
                    title=f"Dense autoencoder on MNIST: {label} per epoch",
                )
            )
    lines = summary_lines(run, settings, trials, configs, records, len(keys), command, figures)
    return script_setup.write_summary(run.out, lines), records


def write_trials_csv(path, trials, configs):
    chosen = {(c["latent_dim"], c["penalty"], c["learning_rate"], c["lam"], c["placement"]) for c in configs}
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "latent_dim,penalty,learning_rate,lam,placement,trial_epochs,score_min_val_mse,best_epoch,trial_id,chosen\n"
        )
        for r in trials:
            c = r["config"]
            key = (c["latent_dim"], c["penalty"], c["learning_rate"], c["lam"], c["placement"])
            f.write(
                f"{c['latent_dim']},{c['penalty']},{c['learning_rate']:g},{c['lam']:g},{c['placement']},"
                f"{c['trial_epochs']},{evidence.trial_score(r):.6g},{(r.get('tuner') or {}).get('best_step')},"
                f"{(r.get('tuner') or {}).get('trial_id')},{key in chosen}\n"
            )


def chosen_table(settings, trials, configs, records):
    """Markdown: the chosen hyperparameters per configuration, with the best trial score per kernel."""
    from keras_entropy.experiments.reports import markdown_table

    rows = []
    for c in configs:
        mine = [
            r for r in trials if (r["config"]["latent_dim"], r["config"]["penalty"]) == (c["latent_dim"], c["penalty"])
        ]
        best = {
            p: min((evidence.trial_score(r) for r in mine if r["config"]["placement"] == p), default=math.nan)
            for p in (*evidence.PLACEMENTS, evidence.NO_PLACEMENT)
        }
        runs = [r for r in records if r["config"] == c]
        per_epoch = sum(r["wall_time_s"] / len(r["history"]["val_mse"]) for r in runs) / len(runs) if runs else math.nan
        rows.append(
            [c["latent_dim"], c["penalty"], f"{c['learning_rate']:g}", f"{c['lam']:g}", c["placement"], len(mine)]
            + [
                f"{best[p]:.4e}" if math.isfinite(best[p]) else "-"
                for p in (evidence.NO_PLACEMENT, *evidence.PLACEMENTS)
            ]
            + [f"{per_epoch:.2f}" if math.isfinite(per_epoch) else "-"]
        )
    return markdown_table(
        [
            "width",
            "config",
            "learning rate",
            "lam / factor",
            "kernel",
            "trials",
            "best trial (no penalty)",
            "best trial on encoder",
            "best trial on decoder",
            "s / epoch (final runs)",
        ],
        rows,
    )


def summary_lines(run, settings, trials, configs, records, planned, command, figures):
    thresholds, n_trials = settings["thresholds"], sum(grid_size(settings, p) for p in settings["penalties"])
    n_runs = len(settings["widths"]) * len(settings["penalties"]) * settings["seeds"]
    info = sorted({f"{r.get('backend')} on {', '.join(r.get('devices') or ['?'])}" for r in records + trials})
    x_train, x_val, x_test = run.arrays
    lines = script_setup.summary_header("Does an entropy penalty help a dense autoencoder on MNIST?", run.note, command)
    lines += [
        "The study runs in portions: the same command resumes it (--cpu-minutes bounds the CPU time of each "
        "invocation), so the command above may have run several times."
        + (
            " `OPENBLAS_NUM_THREADS=1`: on the JAX backend the penalties' Cholesky and QR run through the "
            "OpenBLAS that scipy bundles, whose idle threads spin; on a shared CPU that made each penalised "
            "step several times slower (only the speed changes)."
            if os.environ.get("OPENBLAS_NUM_THREADS") == "1"
            else ""
        ),
        "",
        f"**Status:** {len(records)} of {n_runs} final runs done ({planned} planned so far: {len(configs)} "
        "configurations have a finished search); "
        f"{len(trials)} of {n_trials * len(settings['widths'])} search trials done. "
        f"Backend/devices: {', '.join(info) or 'none yet'}.",
        "",
        "## Setup",
        "",
        f"- Data: {_data(run.data)}. Training: the first {len(x_train)} training images; validation: "
        f"the last {len(x_val)} training images (hyperparameters are chosen on these alone); test: "
        f"{len(x_test)} test images, used only for this report.",
        f"- Model: {x_train.shape[1]} -> width -> {x_train.shape[1]}, sigmoid both layers, MSE, Adam, batch "
        f"{settings['batch_size']}; widths {', '.join(map(str, settings['widths']))}. Configurations: "
        "`none` (no penalty), `paper` / `volume` / `normalized` (`DenseEntropy(lam, form=...)`, stabilized), "
        "`orthogonal` (`keras.regularizers.OrthogonalRegularizer(factor)`, mode `columns` on the encoder "
        "kernel and `rows` on the decoder kernel, the vectors that can be orthogonal); each penalty is a "
        "kernel regularizer on one kernel.",
        f"- Search (a KerasTuner grid search, one project per width and configuration in `tuner/`, every "
        f"trial exported to `trials.jsonl` and `trials.csv`): learning rate "
        f"{_grid(settings['learning_rates'])} for every configuration, the baseline included; DenseEntropy lam "
        f"{_grid(settings['lams'])}; orthogonal factor {_grid(settings['factors'])}; kernel encoder or decoder "
        f"for each penalty. Each trial trains {settings['trial_epochs']} epochs (fewer than the final runs, "
        f"to fit the compute budget) from the weights of seed {settings['search_seed']}; its score is the "
        "lowest validation MSE within those epochs (the MSE alone, not `val_loss`, which includes the "
        "penalty); the lowest score wins.",
        f"- Final runs: each configuration at its chosen hyperparameters, seeds {run.args.seed} .. "
        f"{run.args.seed + settings['seeds'] - 1}, {settings['epochs']} epochs each, no early stopping; per "
        "epoch the records hold train MSE (`mse`, Keras's mean over the epoch's batches), validation MSE and "
        "loss, and test MSE. The paper's "
        f"stopping rule (patience {settings['patience']}) is replayed afterwards on val MSE and on val loss.",
        "",
        "## Chosen hyperparameters",
        "",
        "Best trial = the lowest validation MSE within a trial's epochs, per kernel.",
        "",
        chosen_table(settings, trials, configs, records),
        "",
    ]
    if not records:
        return lines + ["No final runs yet.", ""]
    verdicts = verdict.verdict_rows(records)
    rows = evidence.evidence_rows(records, thresholds)
    lines += (
        ["## Verdict", ""]
        + [f"- {s}" for s in verdict.verdict_sentences(verdicts)]
        + [f"- {s}" for s in search_against_final(settings, trials, verdicts)]
        + [
            "",
            verdict.verdict_table(verdicts),
            "",
            "## Results",
            "",
            evidence.results_note(settings["epochs"], settings["patience"]),
            "",
            evidence.evidence_table(rows, thresholds),
            "",
            evidence.TESTS_NOTE,
            "",
            evidence.tests_table(rows),
            "",
        ]
    )
    return lines + [line for path in figures for line in (f"![{os.path.basename(path)}]({os.path.basename(path)})", "")]


def search_against_final(settings, trials, verdicts):
    """Per width: what beat no penalty within the trials' epochs, and which of those lost after the final runs."""
    chosen, sentences = evidence.chosen_hyperparameters(trials), []
    for width in sorted({r["group"] for r in verdicts}):
        final = {r["penalty"]: r["final"][0] for r in verdicts if r["group"] == width}
        if (width, evidence.BASELINE) not in chosen or evidence.BASELINE not in final:
            continue
        early = [
            p
            for p in final
            if p != evidence.BASELINE
            and (width, p) in chosen
            and chosen[width, p]["score"] < chosen[width, evidence.BASELINE]["score"]
        ]
        late = [p for p in early if final[p] > final[evidence.BASELINE]]
        sentences.append(
            f"Width {width}: within the search's {settings['trial_epochs']} epochs, "
            + (", ".join(early) or "no penalty")
            + " had a lower best validation MSE than no penalty"
            + (
                f"; after {settings['epochs']} epochs {', '.join(late)} had a higher mean final test MSE than no "
                "penalty: the short trials favoured what helps early"
                if late
                else ""
            )
            + "."
        )
    return sentences


def _data(data):
    source = {"embedded": "the embedded MNIST subset", "local": "the four MNIST IDX files of --data-dir"}
    return f"{data.name}, {len(data.x_train)} training and {len(data.x_test)} test images from " + source.get(
        data.source, "tensorflow-datasets"
    )


def _grid(values):
    return ", ".join(f"{v:g}" for v in values)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    settings = arguments.settings_for(args, DEFAULTS, SETTINGS)
    run = script_setup.start(args, "dense_autoencoder_study")
    run.arrays = autoencoder_study.split_images(
        run.data, settings["val_size"], settings["train_size"], settings["test_size"]
    )
    deadline = study.deadline(args.cpu_minutes)
    command = study.study_command(__file__, argv)
    try:
        for width in settings["widths"] if not args.report_only else []:
            for penalty in settings["penalties"]:
                if not search(run, settings, run.arrays, width, penalty, deadline):
                    raise study.TimeUp
            configs = [
                c
                for c in final_configs(run, settings, run.arrays, current_trials(run, settings))
                if c["latent_dim"] == width
            ]
            run.sweep(
                train_final(settings, run.arrays, deadline, args.verbose),
                configs,
                settings["seeds"],
                show=("val_mse", "test_mse"),
            )
            write_report(run, settings, current_trials(run, settings), command)
    except study.TimeUp:
        print(study.TIME_UP_MESSAGE, flush=True)
    summary, records = write_report(run, settings, current_trials(run, settings), command)
    verdicts = verdict.verdict_rows(records) if records else []
    study.finish(
        run, summary, verdict.verdict_table(verdicts) if verdicts else None, verdict.verdict_sentences(verdicts)
    )
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))
