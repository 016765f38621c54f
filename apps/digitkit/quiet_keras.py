"""Import Keras (and start TensorFlow) without TensorFlow's start-up chatter on stderr.

TensorFlow's C++ code writes lines such as "oneDNN custom operations are on", "Could not find cuda drivers"
and "failed call to cuInit" straight to file descriptor 2 before its own log level is read, so
TF_CPP_MIN_LOG_LEVEL alone does not hide them. While Keras is imported and TensorFlow's devices are set
up, descriptor 2 goes to a temporary file; afterwards every line that is not such a log line is passed on.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

# TensorFlow's log lines: absl/glog-style in 2.21 ("I0000 00:00:1795614797.878116    8085 port.cc:153] ..."),
# with a date in 2.20, Colab's ("2026-12-05 05:27:02.391369: E external/.../cuda_platform.cc:51] ..."), and
# the second line of its note on CPU instructions
_LOG_LINE = re.compile(
    r"^([IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\] "
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$)"
)
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_lock = threading.Lock()
_keras: ModuleType | None = None  # set once Keras is imported and TensorFlow started


def is_start_up_chatter(line: str) -> bool:
    """True for TensorFlow's start-up log lines (info, warning or error), False for anything else."""
    return line.startswith(_ABSL_PREAMBLE) or bool(_LOG_LINE.match(line))


@contextmanager
def stderr_without_chatter() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file, then pass on what is not start-up chatter."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines()
            kept = [line for line in lines if not is_start_up_chatter(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def import_keras() -> ModuleType:
    """The keras module, imported (with TensorFlow's devices started) without start-up chatter on stderr."""
    global _keras
    with _lock:
        if _keras is not None:
            return _keras
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what TensorFlow logs once it reads its level
        with stderr_without_chatter():
            import keras

            if keras.config.backend() == "tensorflow":
                import tensorflow as tf

                tf.config.list_logical_devices()  # starts the runtime now: CUDA's cuInit talks here
                # The first photos trace the model for a few batch shapes in a row (powers of two, see
                # models.padded_batches), which TensorFlow warns about as "retracing"; each is traced once.
                tf.get_logger().addFilter(
                    lambda record: "triggered tf.function retracing" not in record.getMessage()
                )
        _keras = keras
        return keras
