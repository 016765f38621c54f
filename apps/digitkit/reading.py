"""Read all the digits in an image with a model: the shared entry point of both apps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from digitkit.marks import ALL_RULES, Rules, read_marks
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
    def sure(self) -> bool:
        """True when every digit of the number is sure (none unsure or doubtful)."""
        return all(p.sure for p in self.digits)

    @property
    def confidence(self) -> float:
        """The model's confidence in the whole number: the product of its digits' top probabilities (0 when
        there are none). A doubtful digit's probability leaves out the rules' doubt (a slash is a sure 1 to
        the model): the apps state this only when the number is `sure`."""
        return float(np.prod([p.confidence for p in self.digits])) if self.digits else 0.0

    @property
    def unsure_positions(self) -> list[int]:
        """The positions (1 = first) of the number's digits that are unsure or doubtful."""
        return [position for position, p in enumerate(self.digits, start=1) if not p.sure]

    @property
    def summary(self) -> str:
        """The number as the apps state it: "4213", or "4213 (not sure of the 2nd and 4th digits)"."""
        unsure = self.unsure_positions
        if not unsure:
            return self.text
        places = [ordinal(position) for position in unsure]
        listed = places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]
        return f"{self.text} (not sure of the {listed} digit{'s' if len(places) > 1 else ''})"

    @property
    def probabilities(self) -> np.ndarray:
        """The (N, 10) class probabilities, one row per digit."""
        if not self.predictions:
            return np.zeros((0, CLASS_COUNT), dtype=np.float32)
        return np.stack([prediction.probabilities for prediction in self.predictions])


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def read_digits(
    image: np.ndarray, model: keras.Model, check: DigitCheck | None = None, rules: Rules = ALL_RULES
) -> Reading:
    """Find the digits in a gray or BGR image and predict each one, left to right.

    A box whose crop holds no strokes once preprocessed (a solid blot) is left out. With the model's
    DigitCheck, every mark is checked (marks.py): marks that are not digits get the status NOT_A_DIGIT and
    stay out of the text; marks of the number the rules doubt are UNSURE, with the reason. `rules` switches
    the reader's rules (marks.Rules: all on in the apps). Raises digitkit.segment.TooManyDigitsError for pages of text and patterns.
    """
    if check is not None:
        return _checked_reading(image, check, rules)
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


def _checked_reading(image: np.ndarray, check: DigitCheck, rules: Rules) -> Reading:
    """read_digits with a DigitCheck: the marks read_marks finds, each a digit, a doubtful one or none."""
    marks = [
        mark for mark in read_marks(image, check, rules).marks if mark.model_input is not None
    ]  # no smudges
    predictions = [
        prediction_from(mark.probabilities, mark.model_input, is_digit=mark.is_digit, doubt=mark.doubt)
        for mark in marks
    ]
    return Reading([mark.box for mark in marks], predictions)
