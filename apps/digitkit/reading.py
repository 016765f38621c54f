"""Read all the digits in an image with a model: the shared entry point of both apps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from digitkit.models import CLASS_COUNT, predict_proba
from digitkit.preprocess import to_model_input
from digitkit.segment import DigitBox, find_digits

if TYPE_CHECKING:
    import keras


def read_digits(image: np.ndarray, model: keras.Model) -> tuple[str, list[DigitBox], np.ndarray]:
    """The digits read left to right, their boxes, and the (N, 10) class probabilities, one row per box."""
    boxes = find_digits(image)
    if not boxes:
        return "", [], np.zeros((0, CLASS_COUNT), dtype=np.float32)
    batch = np.stack([to_model_input(box.crop, invert=False) for box in boxes])
    probabilities = predict_proba(model, batch)
    text = "".join(str(int(digit)) for digit in probabilities.argmax(axis=1))
    return text, boxes, probabilities


def top_k(probabilities: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    """The k likeliest digits of one probability row, as (digit, probability), likeliest first."""
    row = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    order = np.argsort(row)[::-1][:k]
    return [(int(digit), float(row[digit])) for digit in order]
