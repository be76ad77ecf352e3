"""keras_entropy.tuning.export: KerasTuner trials as the results records of a sweep."""

import os

import keras
import keras_tuner
import numpy as np
import pytest

from keras_entropy import tuning
from keras_entropy.experiments import analysis, autoencoder, runs, sweeps

pytestmark = pytest.mark.one_backend


def test_export_gives_the_same_records_and_tables_as_a_sweep(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.uniform(size=(64, 12)).astype("float32")
    x_val = rng.uniform(size=(32, 12)).astype("float32")
    fixed = {
        "experiment": "dense_autoencoder",
        "latent_dim": 3,
        "patience": 1,
        "max_epochs": 3,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "monitor": "val_loss",
        "stop_when": "all",
    }
    lams = [0.0, 0.1]
    seeds = [0, 1]

    sweep_file = tmp_path / "sweep.jsonl"
    configs = sweeps.expand_grid({"lam": lams}, fixed=fixed)
    sweeps.run_sweep(
        lambda config, seed: autoencoder.dense_autoencoder_run(config, seed, (x_train, x_val), verbose=0),
        configs,
        len(seeds),
        sweep_file,
        seed=seeds[0],
        progress=False,
        log=None,
    )

    def build_autoencoder():
        model = autoencoder.dense_autoencoder(12, fixed["latent_dim"])
        model.compile(
            keras.optimizers.Adam(fixed["learning_rate"]), "mse", metrics=[keras.metrics.MeanSquaredError(name="mse")]
        )
        return model

    hypermodel = tuning.EntropyHyperModel(
        build_autoencoder, dense=tuning.EntropySearch(lam=lams, placement="first"), seeds=seeds
    )
    tuner = keras_tuner.GridSearch(hypermodel, objective="val_loss", directory=str(tmp_path), project_name="grid")
    monitors = list(autoencoder.DENSE_AUTOENCODER_MONITORS)
    tuner.search(
        x_train,
        x_train,
        validation_data=(x_val, x_val),
        epochs=fixed["max_epochs"],
        batch_size=fixed["batch_size"],
        verbose=0,
        callbacks=[runs.MultiMonitorStopping(monitors, fixed["patience"])],
    )
    tuned_file = tmp_path / "tuned.jsonl"
    out = tuning.export_trials(
        tuner, tuned_file, rename={"dense_lam": "lam"}, fixed=fixed, monitors=monitors, patience=fixed["patience"]
    )
    assert out["exported"] == 4
    assert (
        tuning.export_trials(
            tuner, tuned_file, rename={"dense_lam": "lam"}, fixed=fixed, monitors=monitors, patience=fixed["patience"]
        )["exported"]
        == 0
    )

    swept = {r["key"]: r for r in sweeps.ResultsFile(sweep_file).records()}
    tuned = {r["key"]: r for r in sweeps.ResultsFile(tuned_file).records()}
    assert set(swept) == set(tuned)  # same configs and seeds
    for key, record in swept.items():
        for field in (
            "config",
            "seed",
            "replication",
            "monitor",
            "stopping",
            "stopping_epoch",
            "epochs_trained",
            "backend",
            "devices",
        ):
            assert tuned[key][field] == record[field], field
        for name, values in record["history"].items():
            np.testing.assert_allclose(tuned[key]["history"][name], values, rtol=1e-6)

    summaries = [
        analysis.write_sweep_report(
            path, tmp_path / name, x="latent_dim", group="lam", metric="val_mse", monitors=monitors, title="t"
        )
        for name, path in (("r_sweep", sweep_file), ("r_tuned", tuned_file))
    ]

    def drop_wall_time(table):  # the one column that differs: wall seconds per run
        return [line.rstrip("|").rsplit("|", 1)[0] for line in table.split("\n")]

    assert drop_wall_time(summaries[0].table) == drop_wall_time(summaries[1].table)
    assert summaries[0].markdown.replace(summaries[0].table, "") == summaries[1].markdown.replace(
        summaries[1].table, ""
    )
    assert "n/a" not in summaries[1].table.split("\n")[2]  # two replications: real intervals


def test_export_from_a_project_directory_and_without_histories(tmp_path):
    # A plain build function (no EntropyHyperModel): no histories in the trial folders.
    x, y = np.ones((8, 4), "float32"), np.ones((8, 3), "float32")
    tuner = keras_tuner.RandomSearch(
        _dense_model, objective="val_loss", max_trials=2, seed=0, directory=str(tmp_path), project_name="plain2"
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    records = tuning.trial_records(os.path.join(str(tmp_path), "plain2"), monitors=["val_loss"])
    assert len(records) == 2
    assert all(r["history"] == {} and "val_loss" in r["metrics"] for r in records)
    with pytest.raises(ValueError, match="monitors"):
        tuning.trial_records(os.path.join(str(tmp_path), "plain2"))


def _dense_model(hp):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(3, use_bias=hp.Boolean("bias"))]
    )
    model.compile("sgd", "mse")
    return model
