"""A quiet console: TensorFlow's start-up lines kept off stderr.

TensorFlow writes start-up and device lines from C++ straight to file
descriptor 2 ("All log messages before absl::InitializeLog() ...",
"oneDNN custom operations are on", "Could not find cuda drivers"), some
before its log level is read, so `TF_CPP_MIN_LOG_LEVEL` alone does not
silence them all. `quiet_stderr` sends file descriptor 2 to a temporary
file for a block (Keras's import, a model's loading) and writes back what
the caller keeps; `quiet_logs` filters the Python loggers' noise.

The command line (`keras_entropy.__main__`) and the example scripts
(`keras_entropy.experiments.script_setup`) both use it. This module needs
only the standard library.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

#: TensorFlow's C++ log lines (absl format) and the notice printed before absl is initialised.
STARTUP_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
    r"|To enable the following instructions: )"
)


def is_startup_line(line):
    """True for a line of TensorFlow's C++ start-up log (`STARTUP_LOG`)."""
    return bool(STARTUP_LOG.match(line))


def keep_all_but_startup_lines(line):
    """The default `keep` of `quiet_stderr`: every line but TensorFlow's start-up log."""
    return not is_startup_line(line)


@contextlib.contextmanager
def quiet_stderr(enabled=True, *, keep=keep_all_but_startup_lines, replay_on_error=False, quiet_errors=()):
    """Capture file descriptor 2 in this block; write back the lines that `keep` keeps.

    Everything written to stderr in the block, from Python or from C++, goes
    to a temporary file. When the block ends, the captured lines for which
    `keep(line)` is true are written to stderr (none when `keep` is None).
    With `replay_on_error`, a block that raises (anything but `quiet_errors`,
    whose message says it all) writes back everything it captured instead,
    so that the failure's context is not lost.

    Args:
        enabled: False: do nothing (e.g. with --verbose).
        keep: a function of a line (with its newline), or None to drop all.
        replay_on_error: write back all captured lines when the block raises.
        quiet_errors: exception classes that do not trigger `replay_on_error`.
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no real fd 2 (e.g. some embedded interpreters)
        yield
        return
    replay = False
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException as error:
            replay = replay_on_error and not isinstance(error, quiet_errors)
            raise
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            _write_back(captured, None if replay else keep, replay)


def _write_back(captured, keep, everything):
    """Write the lines of file `captured` to stderr: all of them, or those `keep` keeps."""
    if keep is None and not everything:
        return
    captured.seek(0)
    text = captured.read().decode("utf-8", "replace")
    kept = text if everything else "".join(line for line in text.splitlines(keepends=True) if keep(line))
    if kept:
        sys.stderr.write(kept)
        sys.stderr.flush()


class DropMessages(logging.Filter):
    """A logging filter that drops the records whose message contains all of `parts`."""

    def __init__(self, *parts):
        super().__init__()
        self.parts = parts

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a malformed record: let logging report it
            return True
        return not all(part in message for part in self.parts)


#: TensorFlow's warning that a tf.function was retraced (a sweep builds a new model per run, by design).
RETRACING = ("triggered tf.function retracing",)
#: tensorflow-datasets' warning about a variant folder without dataset_info.json, logged while it
#: merely probes a data directory for a data set that is not there.
PROBE = ("Variant folder", "dataset_info.json")


def add_filter(logger_name, parts):
    """Add `DropMessages(*parts)` to a logger, unless one with those parts is there already."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, DropMessages) and f.parts == parts for f in logger.filters):
        logger.addFilter(DropMessages(*parts))


def quiet_logs(verbose=False, level="3"):
    """Silence start-up noise unless `verbose`; call it before importing Keras.

    Without `verbose`: sets `TF_CPP_MIN_LOG_LEVEL=level` (unless already
    set) and drops TensorFlow's "... triggered tf.function retracing"
    warnings. Always: drops tensorflow-datasets' "Variant folder ... has no
    dataset_info.json" warnings (absl's logger; nothing when absl is not
    installed).
    """
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", level)
        add_filter("tensorflow", RETRACING)
    try:
        import absl.logging  # noqa: F401  (so that the "absl" logger is absl's own)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow and tensorflow-datasets
        return
    add_filter("absl", PROBE)
