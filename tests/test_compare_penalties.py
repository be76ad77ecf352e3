"""examples/compare_penalties.py, the README's first command: its tiny mode end to end, quiet, resumable;
the model it writes out trains exactly as the study's runs; and the hyperparameters it uses are the ones the
dense-autoencoder study chose."""

import json
import os

import pytest

from helpers import ROOT, run_example, run_example_here
from keras_entropy import console
from keras_entropy.experiments import analysis

pytestmark = pytest.mark.one_backend

STUDY_TRIALS = os.path.join(ROOT, "docs", "results", "dense_autoencoder_study", "trials.jsonl")
SCRIPT = os.path.join(ROOT, "examples", "compare_penalties.py")


def test_tuned_hyperparameters_are_the_studys_choice():
    with open(STUDY_TRIALS, encoding="utf-8") as f:
        trials = [json.loads(line) for line in f if line.strip()]
    chosen = analysis.chosen_hyperparameters(trials)
    for penalty, tuned in analysis.TUNED.items():
        choice = chosen[analysis.WIDTH, penalty]
        assert {k: choice[k] for k in ("learning_rate", "lam", "placement")} == tuned, penalty


def test_configs_validate():
    with pytest.raises(ValueError, match="penalties"):
        analysis.configs(3, penalties=("none", "volumes"))
    with pytest.raises(ValueError, match="epochs"):
        analysis.configs(0)


def test_the_script_builds_the_model_and_attaches_each_penalty_itself():
    with open(SCRIPT, encoding="utf-8") as f:
        code = f.read()
    for text in (
        "keras.layers.Dense(",
        'ke.DenseEntropy(lam, form="paper")',
        'ke.DenseEntropy(lam, form="normalized")',
        "keras.regularizers.OrthogonalRegularizer(lam",
        "kernel_regularizer=",
        "model.compile(",
        "model.fit(",
        "run.sweep(train, ",
    ):
        assert text in code, text
    assert "study_run" not in code and "KERAS_ENTROPY_DEFER_IMPORTS" not in code


def test_quick_runs_quietly_resumes_and_reports(tmp_path, backend):
    out = tmp_path / "compare"
    proc = run_example("compare_penalties", ["--quick", "--out", str(out)], backend)
    lines = proc.stdout.splitlines()
    assert len(lines) <= 60, proc.stdout
    # stderr: at most TensorFlow's C++ start-up lines (Keras starts with `import keras_entropy`), nothing else.
    assert all(console.is_startup_line(line) for line in proc.stderr.splitlines() if line.strip()), proc.stderr
    assert f"backend: {backend}" in proc.stdout and "embedded" in proc.stdout
    assert sum(line.startswith("[") and "/8] penalty=" in line for line in lines) == 8  # 4 configs x 2 seeds
    # The verdict table, one row per configuration, then the sentence.
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| config | hyperparameters | n | final test_mse [95% CI] |")
    assert [row.split(" | ")[0] for row in table[1:]] == ["| none", "| paper", "| normalized", "| orthogonal"]
    assert lines[-3].startswith("Against no penalty (final test_mse ") and lines[-1].startswith("What to do: ")
    assert f"wrote {out / 'results.jsonl'}, {out / 'test_mse_curves.png'} and " in proc.stdout  # the figure's folder
    summary = (out / "summary.md").read_text()
    assert "python examples/compare_penalties.py --quick" in summary
    assert lines[-3] in summary and lines[-1] in summary
    assert (out / "test_mse_curves.png").stat().st_size > 10_000
    with open(out / "results.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    assert len(records) == 8 and all(len(r["history"]["test_mse"]) == 3 for r in records)
    # The script's own model trains as the study's runs did (the committed results regenerate): seed 0 of each.
    from keras_entropy.experiments import autoencoder, autoencoder_study, datasets

    splits = datasets.load_embedded_mnist().split(200, train_size=500, test_size=200)
    arrays = [autoencoder.flatten_images(x) for x, _ in splits]
    for record in records[:4]:
        assert record["seed"] == 0, record["key"]
        expected = autoencoder_study.study_run(record["config"], 0, arrays)
        assert set(record["history"]) == set(expected["history"]), record["key"]
        for name, values in expected["history"].items():
            assert record["history"][name] == pytest.approx(values, rel=1e-5), (record["key"], name)
        assert record["stopping"] == expected["stopping"], record["key"]
    # The same command again (in this process: it trains nothing): nothing reruns, the same verdict.
    again = run_example_here("compare_penalties", ["--quick", "--out", str(out)])
    assert "0 to run" in again and again.splitlines()[-1] == lines[-1]
    with open(out / "results.jsonl", encoding="utf-8") as f:
        assert len(f.readlines()) == 8
