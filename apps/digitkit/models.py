"""Find, load and call the project's saved Keras models (input (N, 784) float32 in [0, 1], output (N, 10))."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digitkit.quiet_keras import import_keras

if TYPE_CHECKING:  # keras takes seconds to import: only the functions that need it import it
    import keras

MODEL_NAMES = ("ensemble", "distilled", "cnn", "mlp")  # best first
ENSEMBLE = "ensemble"  # a folder of member models (models/ensemble/*.keras), averaged when loaded
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models"  # the repository's models/ ...
MODEL_DIR_VARIABLE = "DIGIT_MODEL_DIR"  # ... unless this environment variable names another folder
INPUT_SIZE = 784
CLASS_COUNT = 10
PROBABILITY_TOLERANCE = 1e-3  # a model's output rows must sum to 1 within this (softmax in float32)
_BATCH_SIZE = 1024


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable, not a Keras model or not of the project's contract shape."""


def model_dir() -> Path:
    """Where both apps look for the saved models: $DIGIT_MODEL_DIR, or the repository's models/."""
    configured = os.environ.get(MODEL_DIR_VARIABLE, "").strip()
    return Path(configured) if configured else DEFAULT_MODEL_DIR


def available_models(folder: str | Path | None = None) -> dict[str, Path]:
    """The saved models found in `folder` (default: model_dir()), by name, best first.

    Each is a `<name>.keras` file, except the ensemble: the folder `ensemble/` of its members' files.
    """
    folder = model_dir() if folder is None else Path(folder)
    paths = {name: folder / f"{name}.keras" for name in MODEL_NAMES if name != ENSEMBLE}
    found = {name: path for name, path in paths.items() if path.is_file()}
    if member_files(folder / ENSEMBLE):
        found = {ENSEMBLE: folder / ENSEMBLE, **found}
    return found


def member_files(folder: Path) -> list[Path]:
    """The members of an ensemble folder (its .keras files), in name order; [] if it is no folder."""
    return sorted(folder.glob("*.keras")) if folder.is_dir() else []


def model_version(path: str | Path) -> float:
    """When a model file (or an ensemble folder's newest member) last changed: a key for caches."""
    path = Path(path)
    files = member_files(path) if path.is_dir() else [path]
    return max(map(_modified, files), default=0.0)


def _modified(path: Path) -> float:
    """When a file last changed; 0 for one that cannot be read (loading it then says why)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _first_line(error: BaseException) -> str:
    """The first sentence of an exception's message (its type's name if it has none), for a one-line report."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    sentence = lines[0].split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= 200 else sentence[:197] + "..."


def _check_archive(path: Path) -> None:
    """ModelLoadError unless a .keras file is a whole zip archive (Keras calls a broken one "File not found")."""
    if path.suffix != ".keras":
        return
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # reads every member and checks its CRC
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ModelLoadError(
            f"{path}: not a readable Keras model (the file is truncated or corrupt)"
        ) from error
    if damaged is not None:
        raise ModelLoadError(
            f"{path}: not a readable Keras model (the file is corrupt: {damaged} is damaged)"
        )


def _check_outputs_are_probabilities(model: keras.Model, path: Path) -> None:
    """ModelLoadError unless the model gives probabilities (rows of ten in [0, 1] summing to 1) on a probe."""
    probe = np.random.default_rng(0).random((8, INPUT_SIZE), dtype=np.float32)
    probe[0], probe[1] = 0.0, 1.0
    try:
        outputs = np.asarray(model.predict_on_batch(probe), dtype=np.float64)
    except Exception as error:  # whatever a broken model raises, it is reported as one line
        raise ModelLoadError(f"{path}: the model fails on a test batch ({_first_line(error)})") from error
    sums = outputs.sum(axis=1)
    if not (
        np.all(np.isfinite(outputs))
        and outputs.min() >= -PROBABILITY_TOLERANCE
        and outputs.max() <= 1 + PROBABILITY_TOLERANCE
        and np.all(np.abs(sums - 1) <= PROBABILITY_TOLERANCE)
    ):
        raise ModelLoadError(
            f"{path}: the model's outputs are not probabilities (rows summing to 1); does its last layer"
            " lack a softmax?"
        )


def averaged(members: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' probabilities (the weights are the members')."""
    keras = import_keras()
    pixels = keras.Input(shape=(INPUT_SIZE,), name="pixels")
    outputs = [member(pixels) for member in members]
    mean = keras.layers.Average(name="mean")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(pixels, mean, name=ENSEMBLE)


def load_model(path: str | Path) -> keras.Model:
    """Load a saved model and check it maps (N, 784) to (N, 10) probabilities; ModelLoadError names the file.

    A folder is an ensemble: its .keras members are loaded and their probabilities averaged.
    """
    model_path = Path(path)
    if model_path.is_dir():
        members = member_files(model_path)
        if not members:
            raise ModelLoadError(f"{model_path}: no ensemble member (.keras file) in this folder")
        for member in members:  # before loading any: a link back to the folder would load it again and again
            if not member.is_file():
                raise ModelLoadError(f"{member}: not a model file (a folder, or a link that leads nowhere)")
        model = averaged([load_model(member) for member in members])
        _check_outputs_are_probabilities(model, model_path)
        return model
    if not model_path.is_file():
        raise ModelLoadError(f"{model_path}: model file not found")
    _check_archive(model_path)
    keras = import_keras()
    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors... for bad files
        raise ModelLoadError(f"{model_path}: not a readable Keras model ({_first_line(error)})") from error
    try:
        input_shape, output_shape = tuple(model.input_shape), tuple(model.output_shape)
    except (AttributeError, ValueError) as error:
        raise ModelLoadError(f"{model_path}: the model has no single input and output") from error
    if input_shape != (None, INPUT_SIZE) or output_shape != (None, CLASS_COUNT):
        raise ModelLoadError(
            f"{model_path}: expected input (None, {INPUT_SIZE}) and output (None, {CLASS_COUNT}),"
            f" got {input_shape} and {output_shape}"
        )
    _check_outputs_are_probabilities(model, model_path)
    return model


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
