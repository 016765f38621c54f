"""What a model made of one digit, in the words both apps show: the digit, how sure, and the candidates."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from digitkit.models import predict_proba
from digitkit.preprocess import to_model_input_image

if TYPE_CHECKING:
    import keras

    from digitkit.novelty import DigitCheck

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
