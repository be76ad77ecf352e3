"""`python -m keras_entropy profile ...`: output, error paths, start-up."""

import csv
import os
import re
import subprocess
import sys
import zipfile

import keras
import pytest

import keras_entropy
from keras_entropy.__main__ import main

pytestmark = pytest.mark.every_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save_model(path, scale=1.0):
    model = keras.Sequential(
        [
            keras.Input((10, 10, 1)),
            keras.layers.Conv2D(4, 3, name="conv1"),
            keras_entropy.EntropyConv2D(4, 3, name="conv2"),
            keras.layers.Flatten(),
            keras.layers.Dense(5, name="dense"),
        ]
    )
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.assign(layer.kernel * scale)
    model.save(path)
    return model


def table_rows(out):
    """The data rows of the printed table: lines that start with an index."""
    return [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]


def test_cli_profile_writes_png_csv_json(tmp_path, capsys):
    trained = str(tmp_path / "trained.keras")
    init = str(tmp_path / "init.keras")
    model = save_model(trained, scale=2.0)
    save_model(init)
    png, table, js = (str(tmp_path / n) for n in ("out.png", "out.csv", "out.json"))
    code = main(["profile", trained, "--compare", init, "--plot", png, "--csv", table, "--json", js])
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
    captured = capsys.readouterr()
    out = captured.out
    assert captured.err == ""
    # What is counted: the profiled Conv2D/Dense layers, of the model's 4 layers.
    assert "trained.keras: 3 profiled layers (2 Conv2D, 1 Dense) of 4 layers in the model" in out
    assert "init.keras: 3 profiled layers (2 Conv2D, 1 Dense) of 4 layers in the model" in out
    assert "conv2" in out and f"wrote {png}" in out
    # The table's index column is the CSV's (0-based), for both models.
    printed = table_rows(out)
    assert [r[0] for r in printed] == [r["index"] for r in rows] * 2 == ["0", "1", "2"] * 2
    assert [r[1] for r in printed[:3]] == ["conv1", "conv2", "dense"]
    # Conv and dense quantities sit in their own columns: a conv row has its
    # filter count, mean log|c11| and total (N_out, filters, mean, total);
    # a dense row its N_out, log|det W_sq| and the same total.
    header = next(line for line in out.splitlines() if line.lstrip().startswith("index"))
    assert "mean log|c11|" in header and "log|det W_sq|" in header and "total dH" in header
    conv_row, dense_row = printed[0], printed[2]
    assert conv_row[2] == "conv" and len(conv_row) == 8
    assert float(conv_row[6]) == pytest.approx(expected[0].statistic("mean"), rel=1e-3)
    assert dense_row[2] == "dense" and len(dense_row) == 7
    assert float(dense_row[5]) == float(dense_row[6]) == pytest.approx(expected[2].total, rel=1e-4)
    dense_line = next(line for line in out.splitlines() if line.split()[:3] == dense_row[:3])
    # The dense value is printed under the log|det W_sq| header, not under mean log|c11|.
    det_end = header.index("log|det W_sq|") + len("log|det W_sq|")
    assert dense_line[:det_end].rstrip().endswith(dense_row[5])


def test_cli_kinds_and_quiet(tmp_path, capsys):
    path = str(tmp_path / "m.keras")
    save_model(path)
    assert main(["profile", path, "--kinds", "dense"]) == 0
    out = capsys.readouterr().out
    assert "m.keras: 1 profiled layer (1 Dense) of 4 layers in the model" in out
    assert [r[:3] for r in table_rows(out)] == [["0", "dense", "dense"]]
    table = str(tmp_path / "q.csv")
    assert main(["profile", path, "--quiet", "--csv", table]) == 0
    assert capsys.readouterr().out == ""
    assert os.path.getsize(table) > 0


@pytest.mark.one_backend
def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "profile" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["profile", "--help"])
    help_text = capsys.readouterr().out
    assert exc.value.code == 0
    for option in ("--plot", "--compare", "--csv", "--json", "--verbose", "log|c11|"):
        assert option in help_text


def test_cli_form_volume_names_the_form(tmp_path, capsys):
    """--form volume: the summary line, the table's header and the outputs name
    the form, and the numbers are entropy_profile(model, form="volume")'s."""
    from keras_entropy.__main__ import _FORMS
    from keras_entropy.validation import FORMS

    assert _FORMS == FORMS
    path = str(tmp_path / "m.keras")
    model = save_model(path)
    table, js = str(tmp_path / "v.csv"), str(tmp_path / "v.json")
    assert main(["profile", path, "--form", "volume", "--csv", table, "--json", js]) == 0
    out = capsys.readouterr().out
    assert "m.keras: 3 profiled layers (2 Conv2D, 1 Dense) of 4 layers in the model; form: volume" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("index"))
    assert header.split()[-6:] == ["grid", "dH_vol/(h", "w)", "dH_vol", "total", "dH_vol"]
    assert "log|c11|" not in header and "form volume:" in out
    expected = keras_entropy.entropy_profile(model, form="volume")
    printed = table_rows(out)
    assert printed[0][5] == "8x8" and printed[1][5] == "6x6"  # each conv layer's grid
    for row, entry in zip(printed, expected):
        assert float(row[-1]) == pytest.approx(entry.total, rel=1e-4)
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["form"] for r in rows] == ["volume"] * 3
    assert keras_entropy.EntropyProfile.from_json(js).form == "volume"
    # The default is the paper's form, and the summary line says so.
    assert main(["profile", path, "--kinds", "dense"]) == 0
    assert "of 4 layers in the model; form: paper" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    assert "--form" in capsys.readouterr().out


@pytest.fixture
def inputs(tmp_path):
    """A readable model, a corrupt .keras file and a zip that is not a Keras model."""
    good = tmp_path / "good.keras"
    save_model(str(good))
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"this is not a zip archive\n")
    not_a_model = tmp_path / "other.keras"
    with zipfile.ZipFile(not_a_model, "w") as z:
        z.writestr("readme.txt", "hello")
    (tmp_path / "adir").mkdir()
    return tmp_path


# (argv after "profile", with {d} the folder of the inputs; strings the error line must contain)
ERROR_CASES = {
    "missing file": (["{d}/missing.keras"], ["MODEL.keras", "no such file", "missing.keras"]),
    "corrupt file": (
        ["{d}/corrupt.keras", "--csv", "{d}/out.csv"],
        ["MODEL.keras", "cannot read", "corrupt.keras", "as a Keras model"],
    ),
    "zip, not a model": (
        ["{d}/other.keras", "--json", "{d}/out.json"],
        ["MODEL.keras", "cannot read", "other.keras", "as a Keras model"],
    ),
    "folder as model": (["{d}/adir"], ["MODEL.keras", "adir", "directory"]),
    "missing compare": (
        ["{d}/good.keras", "--compare", "{d}/nope.keras", "--csv", "{d}/o.csv"],
        ["--compare", "nope.keras", "no such file"],
    ),
    "corrupt compare": (
        ["{d}/good.keras", "--compare", "{d}/corrupt.keras", "--plot", "{d}/o.png"],
        ["--compare", "corrupt.keras", "as a Keras model"],
    ),
    "plot format": (["{d}/good.keras", "--plot", "{d}/fig.xyz"], ["--plot", "fig.xyz", ".xyz"]),
    "plot no extension": (["{d}/good.keras", "--plot", "{d}/fig"], ["--plot", "fig"]),
    "csv folder missing": (
        ["{d}/good.keras", "--csv", "{d}/no/such/dir/t.csv"],
        ["--csv", "no/such/dir/t.csv", "does not exist"],
    ),
    "json is a folder": (["{d}/good.keras", "--json", "{d}/adir"], ["--json", "adir", "directory"]),
    "csv overwrites model": (["{d}/good.keras", "--csv", "{d}/good.keras"], ["--csv", "good.keras", "overwrite"]),
    "same output twice": (
        ["{d}/good.keras", "--csv", "{d}/x.out", "--json", "{d}/x.out"],
        ["--json", "x.out", "--csv"],
    ),
    "bad kinds": (["{d}/good.keras", "--kinds", "lstm"], ["--kinds", "lstm"]),
    "bad form": (["{d}/good.keras", "--form", "log"], ["--form", "log", "volume"]),
    "labels arity": (["{d}/good.keras", "--labels", "one"], ["--labels"]),
    "unknown flag": (["{d}/good.keras", "--colour", "red"], ["--colour"]),
    "no model": ([], ["MODEL.keras", "required"]),
}


@pytest.mark.one_backend
@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_cli_error_paths(case, inputs, capsys):
    """Bad input: exit status 2, one line on stderr naming the flag and the
    value, no traceback, nothing on stdout and no file or folder written."""
    argv, needles = ERROR_CASES[case]
    argv = ["profile"] + [a.format(d=inputs) for a in argv]
    before = sorted(p.name for p in inputs.rglob("*"))
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "error:" in lines[0] and "Traceback" not in captured.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert sorted(p.name for p in inputs.rglob("*")) == before


@pytest.mark.one_backend
def test_cli_no_command(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert "COMMAND" in captured.err


@pytest.mark.one_backend
def test_cli_write_failure_leaves_nothing(inputs, capsys, monkeypatch):
    """When writing fails half-way, the files staged so far are removed."""
    import keras_entropy.__main__ as cli

    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(cli.os, "replace", failing_replace)
    before = sorted(p.name for p in inputs.rglob("*"))
    code = main(
        [
            "profile",
            str(inputs / "good.keras"),
            "--csv",
            str(inputs / "t.csv"),
            "--json",
            str(inputs / "t.json"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.splitlines()) == 1 and "--csv" in err and "t.csv" in err
    assert "No space left" in err
    assert sorted(p.name for p in inputs.rglob("*")) == before


def _env_without_tf_settings():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _is_tf_log_line(line):
    """A line of TensorFlow's C++ log (`I0000 00:00:...  port.cc:153] ...`) or its preamble."""
    return (
        bool(re.match(r"[IWEF]\d{4} ", line))
        or "absl::InitializeLog" in line
        or "oneDNN custom operations" in line
        or "rebuild TensorFlow with" in line
    )


#: The C++ sources of the lines TensorFlow prints while it is imported, before
#: any code of ours runs (as on any `import keras` with TensorFlow).
_TF_IMPORT_SOURCES = ("port.cc:", "cudart_stub.cc:", "cpu_feature_guard.cc:")


def _is_tf_import_line(line):
    """A line TensorFlow prints on import (any other TensorFlow log line is not)."""
    return (
        "absl::InitializeLog" in line
        or "rebuild TensorFlow with" in line
        or (bool(re.match(r"[IWEF]\d{4} ", line)) and any(source in line for source in _TF_IMPORT_SOURCES))
    )


@pytest.mark.one_backend
@pytest.mark.parametrize("argv", [["--help"], ["profile", "--help"]])
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_cli_help_prints_the_help_alone(argv, backend, capsys):
    """`python -m keras_entropy --help` imports the package (so Keras) like any
    add-on, and prints the help alone: stdout is the parser's help; stderr
    holds at most TensorFlow's own start-up lines (on the TensorFlow backend,
    as on any `import keras`), nothing from keras_entropy."""
    with pytest.raises(SystemExit):
        main(argv)
    expected = capsys.readouterr().out
    result = subprocess.run(
        [sys.executable, "-m", "keras_entropy", *argv],
        capture_output=True,
        text=True,
        env=dict(_env_without_tf_settings(), KERAS_BACKEND=backend),
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected and result.stdout.startswith("usage:")
    others = [line for line in result.stderr.splitlines() if not _is_tf_log_line(line)]
    assert others == [], result.stderr
    if backend == "jax":
        assert result.stderr == ""


@pytest.mark.one_backend
def test_cli_as_module_subprocess(tmp_path):
    """A real run: the outputs, and no TensorFlow log line on stderr (without
    TF_CPP_MIN_LOG_LEVEL set) beyond the ones TensorFlow prints on import,
    before any code of ours runs."""
    path = str(tmp_path / "m.keras")
    save_model(path)
    png, table = str(tmp_path / "m.png"), str(tmp_path / "m.csv")
    result = subprocess.run(
        [sys.executable, "-m", "keras_entropy", "profile", path, "--plot", png, "--csv", table, "--names"],
        capture_output=True,
        text=True,
        env=_env_without_tf_settings(),
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if not _is_tf_import_line(line)] == [], result.stderr
    assert os.path.getsize(png) > 1000
    with open(table) as f:
        assert len(f.read().splitlines()) == 4
    assert "m.keras: 3 profiled layers" in result.stdout


@pytest.mark.one_backend
def test_cli_corrupt_file_subprocess(tmp_path):
    """The error path end to end: one line, exit status 2, nothing written."""
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"\x00" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "keras_entropy", "profile", str(bad), "--csv", str(tmp_path / "out.csv")],
        capture_output=True,
        text=True,
        env=_env_without_tf_settings(),
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    # (TensorFlow's own start-up lines are test_cli_as_module_subprocess's concern.)
    assert [line for line in result.stderr.splitlines() if not _is_tf_log_line(line)] == [
        f"python -m keras_entropy profile: error: MODEL.keras: cannot read {str(bad)!r} "
        "as a Keras model: it is not a .keras (zip) archive"
    ]
    assert sorted(os.listdir(tmp_path)) == ["bad.keras"]


def test_cli_reads_the_form_from_the_models_penalties(tmp_path, capsys):
    """Without --form: the form of the model's own entropy penalties, when they share one."""

    def save(path, *forms):
        layers = [keras.Input((6,))] + [
            keras.layers.Dense(6, kernel_regularizer=keras_entropy.DenseEntropy(0.01, form=form), name=f"d{i}")
            for i, form in enumerate(forms)
        ]
        keras.Sequential(layers).save(path)

    normalized, mixed = str(tmp_path / "n.keras"), str(tmp_path / "m.keras")
    save(normalized, "normalized", "normalized")
    save(mixed, "normalized", "volume")
    assert main(["profile", normalized]) == 0
    out = capsys.readouterr().out
    assert "form: normalized (the form of the model's entropy penalties; --form to change it)" in out
    assert "of 2 layers in the model; form: normalized" in out
    assert main(["profile", normalized, "--form", "paper"]) == 0
    assert "of 2 layers in the model; form: paper" in capsys.readouterr().out
    assert main(["profile", mixed]) == 0
    out = capsys.readouterr().out
    assert "form: paper (the model's penalties use normalized, volume; --form to choose one)" in out


def test_cli_error_from_keras_is_cut_between_sentences(tmp_path, capsys):
    path = tmp_path / "notamodel.json"
    path.write_text("{}")
    assert main(["profile", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"python -m keras_entropy profile: error: MODEL.keras: cannot read {str(path)!r}")
    assert err.endswith(".)"), err  # whole sentences, never cut mid-word
