"""Read a written number: every mark the segmenter finds, checked for being a digit, and none lost silently.

`read_marks` reads the marks of an image with a `DigitCheck` (novelty.py). Each mark ends as a digit, a
doubtful digit (shown as unsure, with the reason and its candidates, and counted in the number), or not a
digit (left out of the number, shown grey). The one thing it must never do is drop a mark that may be a
digit without a word: within the number, only dots and dashes are left out; a mark the check refuses is
doubtful there. Marks apart from the number (past a gap wider than the digits leave between them, like the
`No.` or `#` written before it) are left out when none of them is a digit.

The rules, each with a switch in `Rules` (benchmarks/bench_writers.py measures what each gains and costs;
the first four are the segmenter's steps, segment.find_digits):
- rejoin: two touching pieces (cut out of one blob by the segmenter, or a stroke the pen broke) are joined
  when the whole looks more like a digit than its pieces (a wide 0 cut in two, the hook of a 2 apart from its
  loop);
- pieces: a piece touching a non-digit, where the two together are no digit either, is part of that
  non-digit (the first stroke of an N cut off the rest; the two halves of a #): no digit of the number;
- apart: marks past a gap wider than GAP_RATIO x the digits' median gap form a group of their own; a group
  without a digit (one the check accepts, as tall as the digits, no piece of a non-digit) is left out;
- dots: marks shorter than DOT_SHARE of the digits and not flat are dots, not digits;
- row: a mark of the number that the check refuses is a digit up to ROW_MARGIN x the threshold; beyond, it
  is doubtful (without this rule, the check alone decides, and refused marks are left out);
- slash: a "1" at either end of the number that leans further than all but 2% of handwritten 1s
  (SLASH_SLANT) may be a slash ("/42", "17/"): doubtful.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from digitkit.models import CLASS_COUNT
from digitkit.novelty import DigitCheck
from digitkit.preprocess import EmptyImageError, to_model_input_image
from digitkit.segment import DigitBox, find_digits

JOIN_GAP_SHARE = 0.08  # pieces this close (share of their height) may be one digit: a cut blob, an open 4
ROW_MARGIN = 1.2  # in a row of digits, a mark as tall as they are is a digit up to this x the threshold
ROW_HEIGHT_SHARE = 0.7  # a mark this share of the digits' median height is as tall as they are (a 0 is often
# shorter)
DOT_SHARE = 0.35  # a mark shorter than this share of the digits' height is a dot ...
FLAT_RATIO = 1.5  # ... or, this many times wider than tall, a dash (a refused one is left out too)
GAP_RATIO = 1.5  # a gap this many times the digits' median gap (and a fifth of their height) sets marks
# apart from the number (the "No." or "#" written before it)
SLASH_SLANT = 38.0  # degrees: a "1" leaning right more than this may be a slash (2% of Kaggle's 1s do)

DOUBT_UNLIKE = "unlike the digits the model learned"
DOUBT_SLASH = "it leans like a slash"


@dataclass(frozen=True)
class Rules:
    """Which of the reader's rules are on (all, in the apps); each can be switched off to measure it."""

    paper: bool = True  # segment.py: shadows and the page's lines taken out (paper.py)
    merge: bool = True  # segment.py: pieces one above the other joined
    heights: bool = True  # segment.py: pieces far shorter than the tallest dropped
    split: bool = True  # segment.py: blobs of touching digits cut
    rejoin: bool = True
    pieces: bool = True
    apart: bool = True
    dots: bool = True
    row: bool = True
    slash: bool = True


ALL_RULES = Rules()


@dataclass(frozen=True)
class Mark:
    """One mark of the image: its box, the model's input and probabilities, its distance to the digits,
    whether it is a digit, and why it is doubtful ("" when it is not)."""

    box: DigitBox
    model_input: np.ndarray | None  # (28, 28) float32 in [0, 1]; None when the crop holds no ink
    probabilities: np.ndarray
    distance: float
    threshold: float  # distances above this are not digits (for a mark alone)
    is_digit: bool
    doubt: str = ""

    @property
    def digit(self) -> int:
        """The likeliest digit (meaningful only when is_digit)."""
        return int(np.argmax(self.probabilities))


@dataclass(frozen=True)
class MarksReading:
    """The digits read left to right (doubtful ones included, marks that are not digits left out) and every
    mark found."""

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
    """The model's 28x28 input for a box, or None when its crop holds no ink that stands out (a smudge)."""
    try:
        return to_model_input_image(box.crop, invert=False)
    except EmptyImageError:
        return None


def check_boxes(boxes: list[DigitBox], check: DigitCheck) -> list[Mark]:
    """Each box read and checked, in one batch; a box with nothing to read is not a digit."""
    inputs = [_model_input(box) for box in boxes]
    readable = [field.reshape(-1) for field in inputs if field is not None]
    if readable:
        probabilities, distances, is_digit = check.scored(np.stack(readable))
    answers = iter(range(len(readable)))
    threshold = check.clusters.threshold
    marks = []
    for box, field in zip(boxes, inputs, strict=True):
        if field is None:
            marks.append(Mark(box, None, np.zeros(CLASS_COUNT, np.float32), float("inf"), threshold, False))
        else:
            k = next(answers)
            marks.append(
                Mark(box, field, probabilities[k], float(distances[k]), threshold, bool(is_digit[k]))
            )
    return marks


def _rejoin(marks: list[Mark], check: DigitCheck) -> list[Mark]:
    """Join neighbouring pieces where the whole is a digit that looks more like a digit than a
    piece does (a piece that is no digit at all, or a less typical one), until no such pair is left."""
    while True:
        pairs = _touching_pairs(marks)
        if not pairs:
            return marks
        wholes = check_boxes([_joined(marks[i].box, marks[i + 1].box) for i in pairs], check)
        joined = [
            (i, whole)
            for i, whole in zip(pairs, wholes, strict=True)
            if whole.is_digit and whole.distance < max(marks[i].distance, marks[i + 1].distance)
        ]
        if not joined:
            return marks
        i, whole = min(joined, key=lambda pair: pair[1].distance)  # the surest join first
        marks = marks[:i] + [whole] + marks[i + 2 :]


def _pieces_of_non_digits(marks: list[Mark], check: DigitCheck) -> set[int]:
    """The marks that are pieces of a non-digit: touching a mark that is no digit, where the two together
    are no digit either (the first stroke of an N cut off the rest, the halves of a #)."""
    pairs = [i for i in _touching_pairs(marks) if not (marks[i].is_digit and marks[i + 1].is_digit)]
    wholes = check_boxes([_joined(marks[i].box, marks[i + 1].box) for i in pairs], check)
    return {j for i, whole in zip(pairs, wholes, strict=True) if not whole.is_digit for j in (i, i + 1)}


def slant(image: np.ndarray) -> float:
    """How far the ink of a (28, 28) or (784,) digit leans right of upright, in degrees (its second moments)."""
    moments = cv2.moments(np.asarray(image, np.float32).reshape(28, 28))
    return float(np.degrees(np.arctan2(-moments["mu11"], moments["mu02"])))


@dataclass(frozen=True)
class _Row:
    """Where the number's digits stand: their median height, and the median gap between neighbours."""

    height: float
    gap: float


def _row(marks: list[Mark]) -> _Row | None:
    """The row: the median height of the digits the check accepts (of all readable marks when fewer than
    two are accepted) and the median gap between readable neighbours that are not dots; None for a mark
    alone."""
    readable = [mark.box for mark in marks if mark.model_input is not None]
    accepted = [mark.box for mark in marks if mark.is_digit]
    if len(readable) < 2:
        return None
    height = float(np.median([box.h for box in (accepted if len(accepted) >= 2 else readable)]))
    spaced = [box for box in readable if not _is_dot(box, height)] or readable
    gaps = [max(0, b.x - (a.x + a.w)) for a, b in zip(spaced, spaced[1:], strict=False)] or [0]
    return _Row(height, float(np.median(gaps)))


def _is_dot(box: DigitBox, height: float) -> bool:
    """Much shorter than the digits (of this height), and not flat (a dash is)."""
    return box.h < DOT_SHARE * height and box.w < FLAT_RATIO * box.h


def _is_flat(box: DigitBox, row: _Row) -> bool:
    """As short as a dot and much wider than tall: a dash. (A wide mark of more height, such as a 5 with a
    long bar, may be a digit: it is never left out of the number for its shape.)"""
    return box.h < DOT_SHARE * row.height and box.w >= FLAT_RATIO * box.h


def _groups(marks: list[Mark], kept: list[int], row: _Row) -> list[list[int]]:
    """The kept marks (indices, left to right) in groups split at gaps wider than GAP_RATIO x the digits'
    median gap and a fifth of their height."""
    widest = max(GAP_RATIO * row.gap, 0.2 * row.height)
    groups: list[list[int]] = []
    for k in kept:
        if groups:
            before = marks[groups[-1][-1]].box
            if marks[k].box.x - (before.x + before.w) <= widest:
                groups[-1].append(k)
                continue
        groups.append([k])
    return groups


def decide(marks: list[Mark], rules: Rules = ALL_RULES, pieces: frozenset[int] = frozenset()) -> list[Mark]:
    """Each mark's verdict, digit, doubtful digit or no digit, from the check's answer and the rules, given
    the marks that are pieces of a non-digit (`pieces`, see _pieces_of_non_digits)."""
    row = _row(marks)
    if row is None:  # a mark alone: the check decides
        return [_slash_doubt(mark) if rules.slash else mark for mark in marks]
    pieces = pieces if rules.pieces else frozenset()
    kept = [
        k
        for k, mark in enumerate(marks)
        if mark.model_input is not None and not (rules.dots and _is_dot(mark.box, row.height))
    ]

    def sure_digit(k: int) -> bool:
        mark = marks[k]
        return mark.is_digit and k not in pieces and mark.box.h >= ROW_HEIGHT_SHARE * row.height

    groups = _groups(marks, kept, row) if rules.apart else [kept]
    number = {k for group in groups if any(sure_digit(j) for j in group) for k in group}
    if not number:  # no digit as tall as the others anywhere: no number to lose a digit of; the check decides
        return [_slash_doubt(mark) if rules.slash and k in kept else mark for k, mark in enumerate(marks)]
    ends = (min(number), max(number))
    decided = []
    for k, mark in enumerate(marks):
        if k not in number:
            verdict = replace(mark, is_digit=False)
        elif mark.is_digit and k not in pieces:
            verdict = _slash_doubt(mark) if rules.slash and k in ends else mark
        elif not rules.row or (not mark.is_digit and _is_flat(mark.box, row)):
            verdict = replace(mark, is_digit=False)  # the check alone decides; or a refused dash
        elif k not in pieces and mark.distance <= ROW_MARGIN * mark.threshold:
            verdict = replace(mark, is_digit=True)
        else:
            verdict = replace(mark, is_digit=True, doubt=DOUBT_UNLIKE)
        decided.append(verdict)
    return decided


def _slash_doubt(mark: Mark) -> Mark:
    """A "1" that leans further than all but 2% of handwritten 1s, marked doubtful: it may be a slash."""
    if (
        mark.is_digit
        and mark.digit == 1
        and mark.model_input is not None
        and slant(mark.model_input) > SLASH_SLANT
    ):
        return replace(mark, doubt=DOUBT_SLASH)
    return mark


def read_marks(image: np.ndarray, check: DigitCheck, rules: Rules = ALL_RULES) -> MarksReading:
    """The marks of an image, left to right, each read and checked; the text holds the digits (doubtful
    ones included)."""
    boxes = find_digits(image, paper=rules.paper, merge=rules.merge, heights=rules.heights, split=rules.split)
    marks = check_boxes(boxes, check)
    if rules.rejoin:
        marks = _rejoin(marks, check)
    pieces = frozenset(_pieces_of_non_digits(marks, check)) if rules.pieces else frozenset()
    marks = decide(marks, rules, pieces)
    return MarksReading("".join(str(mark.digit) for mark in marks if mark.is_digit), marks)
