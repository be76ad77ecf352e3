"""keras_entropy.console: TensorFlow's start-up lines kept off stderr, and the logging filters."""

import logging
import os
import subprocess
import sys
import textwrap

import pytest

from keras_entropy import console

pytestmark = pytest.mark.one_backend

#: Lines TensorFlow writes from C++ at start-up (absl format and the two notices).
STARTUP = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1735689600.123456   12345 cpu_feature_guard.cc:210] This TensorFlow binary is optimized "
    "to use available CPU instructions in performance-critical operations.\n",
    "E0000 00:00:1735689600.654321   12345 cuda_executor.cc:1228] INTERNAL: CUDA Runtime error: Failed call "
    "to cudaGetRuntimeVersion\n",
    "W0101 12:00:00.000001    7 gpu_device.cc:2342] Cannot dlopen some GPU libraries.\n",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.\n",
]

#: Lines that look alike but are not start-up log lines: they must be kept.
OTHERS = [
    "Traceback (most recent call last):\n",
    "WARNING: this is an ordinary warning\n",
    "I0000 is not a log line without its time and source\n",
    "ValueError: Argument `lam` must be a float. Received: lam='x'\n",
    "  E0000 00:00:1735689600.1   1 indented.cc:1] a copy of a log line inside other text\n",
]


def _write_fd2(lines):
    """Write straight to file descriptor 2, as TensorFlow's C++ code does."""
    for line in lines:
        os.write(2, line.encode())


@pytest.mark.parametrize("line", STARTUP)
def test_startup_lines_are_recognised(line):
    assert console.is_startup_line(line)
    assert not console.keep_all_but_startup_lines(line)


@pytest.mark.parametrize("line", OTHERS)
def test_other_lines_are_not_startup_lines(line):
    assert not console.is_startup_line(line)
    assert console.keep_all_but_startup_lines(line)


def test_quiet_stderr_drops_the_startup_lines_and_keeps_the_others_in_order(capfd):
    mixed = [STARTUP[0], OTHERS[0], STARTUP[1], OTHERS[1], STARTUP[4], OTHERS[4]]
    with console.quiet_stderr():
        _write_fd2(mixed)
        assert capfd.readouterr().err == ""  # held back until the block ends
    assert capfd.readouterr().err == OTHERS[0] + OTHERS[1] + OTHERS[4]


def test_quiet_stderr_restores_file_descriptor_2(capfd):
    with console.quiet_stderr():
        _write_fd2(["inside\n"])
    _write_fd2([STARTUP[1], "after\n"])  # not filtered any more
    assert capfd.readouterr().err == "inside\n" + STARTUP[1] + "after\n"


def test_quiet_stderr_with_keep_none_drops_everything(capfd):
    with console.quiet_stderr(keep=None):
        _write_fd2(STARTUP + OTHERS)
    assert capfd.readouterr().err == ""


def test_quiet_stderr_with_a_custom_keep(capfd):
    with console.quiet_stderr(keep=lambda line: "keep" in line):
        _write_fd2(["keep 1\n", "drop\n", "keep 2\n"])
    assert capfd.readouterr().err == "keep 1\nkeep 2\n"


def test_quiet_stderr_disabled_passes_everything_through(capfd):
    with console.quiet_stderr(enabled=False):
        _write_fd2([STARTUP[0], OTHERS[0]])
        assert capfd.readouterr().err == STARTUP[0] + OTHERS[0]  # at once, not at the block's end


def test_quiet_stderr_replays_everything_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError, match="boom"):
        with console.quiet_stderr(keep=None, replay_on_error=True):
            _write_fd2([STARTUP[1], "context of the failure\n"])
            raise RuntimeError("boom")
    assert capfd.readouterr().err == STARTUP[1] + "context of the failure\n"


def test_quiet_stderr_does_not_replay_quiet_errors(capfd):
    class BadInput(Exception):
        pass

    with pytest.raises(BadInput):
        with console.quiet_stderr(keep=None, replay_on_error=True, quiet_errors=(BadInput,)):
            _write_fd2([STARTUP[1], "noise\n"])
            raise BadInput("says it all")
    assert capfd.readouterr().err == ""


def test_quiet_stderr_without_replay_keeps_its_filter_when_the_block_fails(capfd):
    with pytest.raises(KeyError):
        with console.quiet_stderr():
            _write_fd2([STARTUP[0], "kept\n"])
            raise KeyError("x")
    assert capfd.readouterr().err == "kept\n"


def test_quiet_stderr_in_a_fresh_process_filters_python_and_cpp_writes():
    # sys.stderr and fd 2 as a script has them (pytest replaces sys.stderr in-process).
    code = textwrap.dedent(f"""
        import os, sys
        from keras_entropy import console
        print("before", file=sys.stderr, flush=True)
        with console.quiet_stderr():
            os.write(2, {STARTUP[0]!r}.encode())
            print("python line", file=sys.stderr)
            os.write(2, {STARTUP[1]!r}.encode())
            os.write(2, b"c++ line\\n")
        print("after", file=sys.stderr, flush=True)
    """)
    env = dict(os.environ, KERAS_BACKEND="jax")  # a backend that logs nothing when keras_entropy imports it
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "before\npython line\nc++ line\nafter\n"


# ---------------------------------------------------------------------------
# Logging filters.


@pytest.fixture
def logger():
    """A logger of its own, with its filters removed afterwards."""
    test_logger = logging.getLogger("keras_entropy.tests.console")
    yield test_logger
    test_logger.filters.clear()


@pytest.fixture
def restore_filters():
    """Put back the filters of the loggers `quiet_logs` touches."""
    saved = {name: list(logging.getLogger(name).filters) for name in ("tensorflow", "absl")}
    yield
    for name, filters in saved.items():
        logging.getLogger(name).filters[:] = filters


def test_drop_messages_needs_every_part(logger, caplog):
    logger.addFilter(console.DropMessages(*console.PROBE))
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("Variant folder %s has no dataset_info.json", "/data/mnist/3.0.1")
        logger.warning("Variant folder %s is fine", "/data/mnist/3.0.1")
        logger.warning("dataset_info.json is missing")
    assert [r.getMessage() for r in caplog.records] == [
        "Variant folder /data/mnist/3.0.1 is fine",
        "dataset_info.json is missing",
    ]


def test_drop_messages_reads_the_formatted_message(logger, caplog):
    logger.addFilter(console.DropMessages(*console.RETRACING))
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("5 out of the last 5 calls to %s %s.", "<function f>", "triggered tf.function retracing")
        logger.warning("an unrelated warning")
    assert [r.getMessage() for r in caplog.records] == ["an unrelated warning"]


def test_add_filter_adds_one_filter_per_parts(logger):
    console.add_filter(logger.name, ("a", "b"))
    console.add_filter(logger.name, ("a", "b"))
    assert [f.parts for f in logger.filters] == [("a", "b")]
    console.add_filter(logger.name, ("c",))
    assert [f.parts for f in logger.filters] == [("a", "b"), ("c",)]


def _parts(name):
    return [f.parts for f in logging.getLogger(name).filters if isinstance(f, console.DropMessages)]


def test_quiet_logs_sets_the_tf_log_level_and_the_filters(monkeypatch, restore_filters):
    pytest.importorskip("absl.logging")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    console.quiet_logs()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert _parts("tensorflow").count(console.RETRACING) == 1
    assert _parts("absl").count(console.PROBE) == 1
    console.quiet_logs()  # again: no second filter
    assert _parts("tensorflow").count(console.RETRACING) == 1
    assert _parts("absl").count(console.PROBE) == 1


def test_quiet_logs_keeps_a_log_level_already_set(monkeypatch, restore_filters):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    console.quiet_logs()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_quiet_logs_verbose_only_drops_the_probe_warnings(monkeypatch, restore_filters):
    pytest.importorskip("absl.logging")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    logging.getLogger("tensorflow").filters[:] = []
    logging.getLogger("absl").filters[:] = []
    console.quiet_logs(verbose=True)
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert _parts("tensorflow") == []
    assert _parts("absl") == [console.PROBE]
