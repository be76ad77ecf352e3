"""`python -m keras_entropy profile ...`."""

import csv
import os
import subprocess
import sys

import keras
import pytest

import keras_entropy
from keras_entropy.__main__ import main


def save_model(path, scale=1.0):
    model = keras.Sequential([
        keras.Input((10, 10, 1)),
        keras.layers.Conv2D(4, 3, name="conv1"),
        keras_entropy.EntropyConv2D(4, 3, name="conv2"),
        keras.layers.Flatten(),
        keras.layers.Dense(5, name="dense"),
    ])
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.assign(layer.kernel * scale)
    model.save(path)
    return model


def test_cli_profile_writes_png_csv_json(tmp_path, capsys):
    trained = str(tmp_path / "trained.keras")
    init = str(tmp_path / "init.keras")
    model = save_model(trained, scale=2.0)
    save_model(init)
    png, table, js = (str(tmp_path / n) for n in ("out.png", "out.csv", "out.json"))
    code = main(["profile", trained, "--compare", init, "--plot", png, "--csv", table,
                 "--json", js])
    assert code == 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["conv1", "conv2", "dense"]
    expected = keras_entropy.entropy_profile(model)
    assert float(rows[0]["total"]) == pytest.approx(expected[0].total, rel=1e-6)
    assert os.path.exists(str(tmp_path / "out_compare.csv"))
    back = keras_entropy.EntropyProfile.from_json(js)
    assert back.names == ["conv1", "conv2", "dense"]
    out = capsys.readouterr().out
    assert "trained.keras: 3 layers" in out and "init.keras: 3 layers" in out
    assert "conv2" in out and f"wrote {png}" in out


def test_cli_help_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "profile" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["profile", "--help"])
    help_text = capsys.readouterr().out
    assert exc.value.code == 0
    for option in ("--plot", "--compare", "--csv", "--json", "log|c11|"):
        assert option in help_text
    assert main([]) == 2
    assert main(["profile", str(tmp_path / "missing.keras")]) == 1
    assert "No such model file" in capsys.readouterr().err


def test_cli_as_module_subprocess(tmp_path):
    path = str(tmp_path / "m.keras")
    save_model(path)
    png, table = str(tmp_path / "m.png"), str(tmp_path / "m.csv")
    result = subprocess.run(
        [sys.executable, "-m", "keras_entropy", "profile", path, "--plot", png, "--csv", table,
         "--names"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr
    assert os.path.getsize(png) > 1000
    with open(table) as f:
        assert len(f.read().splitlines()) == 4
