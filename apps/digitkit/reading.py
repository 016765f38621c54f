"""Read all the digits in an image with a model: the shared entry point of both apps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from digitkit.models import CLASS_COUNT, predict_proba
from digitkit.prediction import Prediction, prediction_from
from digitkit.preprocess import EmptyImageError, to_model_input_image
from digitkit.segment import DigitBox, find_digits

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Reading:
    """The digits found in an image, left to right: a box and a prediction for each."""

    boxes: list[DigitBox]
    predictions: list[Prediction]

    @property
    def text(self) -> str:
        """The likeliest digits, left to right (sure or not): "40213"; "" when none were found."""
        return "".join(str(prediction.digit) for prediction in self.predictions)

    @property
    def probabilities(self) -> np.ndarray:
        """The (N, 10) class probabilities, one row per digit."""
        if not self.predictions:
            return np.zeros((0, CLASS_COUNT), dtype=np.float32)
        return np.stack([prediction.probabilities for prediction in self.predictions])


def read_digits(image: np.ndarray, model: keras.Model) -> Reading:
    """Find the digits in a gray or BGR image and predict each one, left to right.

    A box whose crop holds no strokes once preprocessed (a solid blot) is left out. Raises
    digitkit.segment.TooManyDigitsError for pages of text and patterns.
    """
    boxes, inputs = [], []
    for box in find_digits(image):
        try:
            inputs.append(to_model_input_image(box.crop, invert=False))
        except EmptyImageError:
            continue
        boxes.append(box)
    if not boxes:
        return Reading([], [])
    probabilities = predict_proba(model, np.stack(inputs).reshape(len(inputs), -1))
    predictions = [prediction_from(row, field) for row, field in zip(probabilities, inputs, strict=True)]
    return Reading(boxes, predictions)
