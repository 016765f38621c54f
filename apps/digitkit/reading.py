"""Read all the digits in an image with a model: the shared entry point of both apps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from digitkit.marks import read_marks
from digitkit.models import CLASS_COUNT, predict_proba
from digitkit.prediction import Prediction, Status, prediction_from
from digitkit.preprocess import EmptyImageError, to_model_input_image
from digitkit.segment import DigitBox, find_digits

if TYPE_CHECKING:
    import keras

    from digitkit.novelty import DigitCheck


@dataclass(frozen=True)
class Reading:
    """The digits found in an image, left to right: a box and a prediction for each."""

    boxes: list[DigitBox]
    predictions: list[Prediction]

    @property
    def digits(self) -> list[Prediction]:
        """The predictions of the marks that are digits (sure or not), left to right."""
        return [p for p in self.predictions if p.status is not Status.NOT_A_DIGIT]

    @property
    def text(self) -> str:
        """The likeliest digits, left to right (sure or not; marks that are not digits left out): "40213"."""
        return "".join(str(p.digit) for p in self.digits)

    @property
    def probabilities(self) -> np.ndarray:
        """The (N, 10) class probabilities, one row per digit."""
        if not self.predictions:
            return np.zeros((0, CLASS_COUNT), dtype=np.float32)
        return np.stack([prediction.probabilities for prediction in self.predictions])


def read_digits(image: np.ndarray, model: keras.Model, check: DigitCheck | None = None) -> Reading:
    """Find the digits in a gray or BGR image and predict each one, left to right.

    A box whose crop holds no strokes once preprocessed (a solid blot) is left out. With the model's
    DigitCheck, every mark is checked (marks.py): marks that are not digits get the status NOT_A_DIGIT and
    stay out of the text. Raises digitkit.segment.TooManyDigitsError for pages of text and patterns.
    """
    if check is not None:
        return _checked_reading(image, check)
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


def _checked_reading(image: np.ndarray, check: DigitCheck) -> Reading:
    """read_digits with a DigitCheck: the marks read_marks finds, each a digit or not."""
    boxes, predictions = [], []
    for mark in read_marks(image, check).marks:
        try:
            model_input = to_model_input_image(mark.box.crop, invert=False)
        except EmptyImageError:  # a flat smudge: nothing to show or read
            continue
        boxes.append(mark.box)
        predictions.append(prediction_from(mark.probabilities, model_input, is_digit=mark.is_digit))
    return Reading(boxes, predictions)
