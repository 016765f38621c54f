"""Read a written number: every mark the segmenter finds, checked for being a digit at all.

`read_marks` reads the marks of an image with a `DigitCheck` (novelty.py): marks that are not digits (a dash,
a slash, the letters of `No.`) are kept apart from the text, and two touching pieces (cut out of one blob by
the segmenter, or a stroke the pen broke) are joined again when the whole looks more like a digit than its
pieces (a wide 0 cut in two halves, a 2 whose long tail was cut off, the hook of a 2 apart from its loop),
and a piece stuck to a non-digit is no digit either. In a row of digits, a mark as tall as they are needs
less evidence (ROW_MARGIN) unless it is a piece of a non-digit (a half of a #); one much shorter is no digit.
A slash looks like a 1 to the models and to the check: a "1" that leans further than 98% of handwritten 1s
is taken for a slash (SLASH_SLANT; that catches only the steeper half of slashes, the rest are read as 1s).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from digitkit.models import CLASS_COUNT
from digitkit.novelty import DigitCheck
from digitkit.preprocess import EmptyImageError, to_model_input
from digitkit.segment import DigitBox, find_digits

JOIN_GAP_SHARE = 0.08  # pieces this close (share of their height) may be one digit: a cut blob, an open 4
ROW_MARGIN = 1.2  # in a row of digits, a mark as tall as they are is a digit up to this x the threshold
ROW_HEIGHT_SHARE = 0.7  # a mark this share of the digits' median height is as tall as they are (a 0 is often
# shorter); a shorter one is no digit (the o of "No.") ...
FLAT_RATIO = 1.5  # ... unless it is this many times wider than tall (a flat 2)
SLASH_SLANT = 38.0  # degrees: a "1" leaning right more than this is a slash (2% of Kaggle's training 1s do)


@dataclass(frozen=True)
class Mark:
    """One mark of the image: its box, the model's probabilities, its distance to the digits, a verdict."""

    box: DigitBox
    probabilities: np.ndarray
    distance: float
    threshold: float  # distances above this are not digits (for a mark alone)
    is_digit: bool

    @property
    def digit(self) -> int:
        """The likeliest digit (meaningful only when is_digit)."""
        return int(np.argmax(self.probabilities))


@dataclass(frozen=True)
class MarksReading:
    """The digits read left to right (marks that are not digits left out) and every mark found."""

    text: str
    marks: list[Mark]


def _joined(a: DigitBox, b: DigitBox) -> DigitBox:
    """One box holding the ink of two boxes (in the image's pixels: the crops of a large image, found at a
    lower resolution, are scaled up to their boxes first)."""
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    crop = np.zeros((y1 - y0, x1 - x0), np.result_type(a.crop, b.crop))
    for box in (a, b):
        ink = box.crop
        if ink.shape != (box.h, box.w):
            ink = cv2.resize(ink, (box.w, box.h), interpolation=cv2.INTER_LINEAR)
        region = crop[box.y - y0 : box.y - y0 + box.h, box.x - x0 : box.x - x0 + box.w]
        np.maximum(region, ink, out=region)
    return DigitBox(x0, y0, x1 - x0, y1 - y0, crop)


def _touching(a: DigitBox, b: DigitBox) -> bool:
    """Two boxes with (almost) no gap between them, side by side (as the segmenter leaves a cut blob) or one
    above the other (a stroke the pen broke: the hook and the loop of a 2)."""
    gap = JOIN_GAP_SHARE * max(a.h, b.h)
    x_gap = max(a.x, b.x) - min(a.x + a.w, b.x + b.w)
    y_gap = max(a.y, b.y) - min(a.y + a.h, b.y + b.h)
    return x_gap <= gap and y_gap <= gap


def _touching_pairs(marks: list[Mark]) -> list[int]:
    """The indices i where marks i and i + 1 (neighbours left to right) touch."""
    return [i for i in range(len(marks) - 1) if _touching(marks[i].box, marks[i + 1].box)]


def _model_input(box: DigitBox) -> np.ndarray | None:
    """The model's input for a box, or None when its crop holds no ink that stands out (a flat smudge)."""
    try:
        return to_model_input(box.crop, invert=False)
    except EmptyImageError:
        return None


def _check_boxes(boxes: list[DigitBox], check: DigitCheck) -> list[Mark]:
    """Each box read and checked, in one batch; a box with nothing to read is not a digit."""
    inputs = [_model_input(box) for box in boxes]
    readable = [row for row in inputs if row is not None]
    if readable:
        probabilities, distances, is_digit = check.scored(np.stack(readable))
    answers = iter(range(len(readable)))
    threshold = check.clusters.threshold
    marks = []
    for box, row in zip(boxes, inputs, strict=True):
        if row is None:
            marks.append(Mark(box, np.zeros(CLASS_COUNT, np.float32), float("inf"), threshold, False))
        else:
            k = next(answers)
            marks.append(Mark(box, probabilities[k], float(distances[k]), threshold, bool(is_digit[k])))
    return marks


def _rejoin(marks: list[Mark], check: DigitCheck) -> list[Mark]:
    """Join neighbouring pieces where the whole is a digit that looks more like a digit than a
    piece does (a piece that is no digit at all, or a less typical one), until no such pair is left."""
    while True:
        pairs = _touching_pairs(marks)
        if not pairs:
            return marks
        wholes = _check_boxes([_joined(marks[i].box, marks[i + 1].box) for i in pairs], check)
        joined = [
            (i, whole)
            for i, whole in zip(pairs, wholes, strict=True)
            if whole.is_digit and whole.distance < max(marks[i].distance, marks[i + 1].distance)
        ]
        if not joined:
            return marks
        i, whole = min(joined, key=lambda pair: pair[1].distance)  # the surest join first
        marks = marks[:i] + [whole] + marks[i + 2 :]


def _fall_together(marks: list[Mark], check: DigitCheck) -> list[Mark]:
    """A piece touching one that is not a digit, where the two together are no digit either, is taken
    for part of the same non-digit (the first stroke of an N cut off the rest)."""
    pairs = [i for i in _touching_pairs(marks) if marks[i].is_digit != marks[i + 1].is_digit]
    wholes = _check_boxes([_joined(marks[i].box, marks[i + 1].box) for i in pairs], check)
    refused = {j for i, whole in zip(pairs, wholes, strict=True) if not whole.is_digit for j in (i, i + 1)}
    return [replace(mark, is_digit=False) if k in refused else mark for k, mark in enumerate(marks)]


def slant(image: np.ndarray) -> float:
    """How far the ink of a (28, 28) or (784,) digit leans right of upright, in degrees (its second moments)."""
    moments = cv2.moments(np.asarray(image, np.float32).reshape(28, 28))
    return float(np.degrees(np.arctan2(-moments["mu11"], moments["mu02"])))


def _without_slashes(marks: list[Mark]) -> list[Mark]:
    """The marks, a "1" that leans further than all but 2% of handwritten 1s marked as not a digit: a slash
    (in "/42", or a date's "12/05")."""
    return [
        replace(mark, is_digit=False)
        if mark.is_digit and mark.digit == 1 and slant(_model_input(mark.box)) > SLASH_SLANT
        else mark
        for mark in marks
    ]


def _in_row(marks: list[Mark]) -> list[Mark]:
    """Marks just past the threshold, as tall as the digits around them, taken for digits of the row; but
    not a piece touching another that is no digit (both are pieces of one non-digit: the halves of a #)."""
    heights = [mark.box.h for mark in marks if mark.is_digit]
    if len(heights) < 2:
        return marks
    tall = ROW_HEIGHT_SHARE * float(np.median(heights))
    pieces = {
        k
        for i in _touching_pairs(marks)
        if not marks[i].is_digit and not marks[i + 1].is_digit
        for k in (i, i + 1)
    }
    return [
        replace(mark, is_digit=True)
        if not mark.is_digit
        and k not in pieces
        and mark.distance <= ROW_MARGIN * mark.threshold
        and mark.box.h >= tall
        else mark
        for k, mark in enumerate(marks)
    ]


def _without_small(marks: list[Mark]) -> list[Mark]:
    """The marks, those much shorter than the digits (the o of "No.", a dot) marked as not digits; a short
    mark much wider than tall stays (a flat 2)."""
    heights = [mark.box.h for mark in marks if mark.is_digit]
    if not heights:
        return marks
    least = ROW_HEIGHT_SHARE * float(np.median(heights))
    return [
        replace(mark, is_digit=False) if mark.box.h < least and mark.box.w < FLAT_RATIO * mark.box.h else mark
        for mark in marks
    ]


def read_marks(image: np.ndarray, check: DigitCheck) -> MarksReading:
    """The marks of an image, left to right, each read and checked; the text holds the digits only."""
    marks = _rejoin(_check_boxes(find_digits(image), check), check)
    marks = _without_slashes(_without_small(_in_row(_fall_together(marks, check))))
    return MarksReading("".join(str(mark.digit) for mark in marks if mark.is_digit), marks)
