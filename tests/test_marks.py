"""The reader's rules (digitkit.marks), one at a time, on marks built by hand: no model, no photo.

Each mark is a box in a row, the check's answer (accepted or refused, and its distance against a
threshold of 1) and the digit the model reads. `decide` turns them into digits, doubtful digits and marks
that are not digits; a mark that may be a digit is never dropped without a word.
"""

import numpy as np
import pytest
from digitkit.marks import (
    DOUBT_SLASH,
    DOUBT_UNLIKE,
    GAP_RATIO,
    ROW_MARGIN,
    SLASH_SLANT,
    Mark,
    Rules,
    decide,
    slant,
)
from digitkit.prediction import Status, prediction_from
from digitkit.reading import Reading, ordinal
from digitkit.segment import DigitBox

HEIGHT, WIDTH, GAP = 60, 36, 20  # a row of digits 60 px tall, 36 px wide, 20 px apart


def stroke(degrees: float = 0.0) -> np.ndarray:
    """A 28x28 input holding one straight stroke leaning `degrees` right of upright (a 1, or a slash)."""
    field = np.zeros((28, 28), np.float32)
    for y in np.linspace(4, 23, 80):
        x = 14 + (13.5 - y) * np.tan(np.radians(degrees))
        field[int(round(y)), int(round(x)) : int(round(x)) + 2] = 1.0
    return field


def mark(x: int, digit: int = 4, distance: float = 0.5, h: int = HEIGHT, w: int = WIDTH, field=None) -> Mark:
    """A mark at column x reading `digit`; the check accepts it when distance <= 1."""
    probabilities = np.full(10, 0.001, np.float32)
    probabilities[digit] = 1 - 0.009
    box = DigitBox(x, 100 + HEIGHT - h, w, h, np.zeros((h, w), np.uint8))
    model_input = stroke() if field is None else field
    return Mark(box, model_input, probabilities, distance, 1.0, distance <= 1.0)


def row(*distances: float, start: int = 50) -> list[Mark]:
    """Marks side by side, GAP apart, with these distances."""
    return [mark(start + k * (WIDTH + GAP), distance=d) for k, d in enumerate(distances)]


def verdicts(marks: list[Mark]) -> list[str]:
    """Each mark as "4" (digit), "4?" (doubtful) or "x" (not a digit)."""
    return ["x" if not m.is_digit else f"{m.digit}?" if m.doubt else str(m.digit) for m in marks]


def test_a_refused_mark_inside_the_number_is_doubtful_not_dropped():
    decided = decide(row(0.5, 3.0, 0.5))
    assert verdicts(decided) == ["4", "4?", "4"]
    assert decided[1].doubt == DOUBT_UNLIKE
    # without the row rule the check alone decides, and the number silently loses its middle digit
    assert verdicts(decide(row(0.5, 3.0, 0.5), Rules(row=False))) == ["4", "x", "4"]


def test_a_refused_mark_just_past_the_threshold_is_a_digit_of_the_row():
    assert verdicts(decide(row(0.5, ROW_MARGIN - 0.01, 0.5))) == ["4", "4", "4"]
    assert verdicts(decide(row(0.5, ROW_MARGIN + 0.01, 0.5))) == ["4", "4?", "4"]


def test_marks_apart_before_the_number_are_left_out_and_close_ones_are_doubtful():
    far = (GAP_RATIO + 1) * GAP
    apart = [mark(0, distance=3.0)] + row(0.5, 0.5, 0.5, start=WIDTH + far)
    assert verdicts(decide(apart)) == ["x", "4", "4", "4"]  # the "No." or "#" before a number
    assert verdicts(decide(apart, Rules(apart=False))) == ["4?", "4", "4", "4"]
    close = row(3.0, 0.5, 0.5, 0.5)  # a refused mark at the usual gap: "/42"
    assert verdicts(decide(close)) == ["4?", "4", "4", "4"]


def test_a_group_apart_that_holds_a_digit_is_part_of_the_number():
    far = (GAP_RATIO + 1) * GAP
    groups = row(0.5, 0.5) + row(0.5, 0.5, start=50 + 2 * WIDTH + GAP + far)  # "12 34"
    assert verdicts(decide(groups)) == ["4", "4", "4", "4"]


def test_dots_are_left_out_but_small_digits_are_kept():
    marks = row(0.5, 0.5, 0.5)
    dot = mark(marks[1].box.x + WIDTH + 2, h=int(0.2 * HEIGHT), w=int(0.2 * HEIGHT))
    small = mark(marks[2].box.x + WIDTH + GAP, h=int(0.6 * HEIGHT))  # a 0 written small, accepted
    decided = decide([*marks[:2], dot, marks[2], small])
    assert verdicts(decided) == ["4", "4", "x", "4", "4"]
    assert verdicts(decide([*marks[:2], dot, marks[2], small], Rules(dots=False)))[2] == "4"


def test_a_refused_dash_is_left_out_and_a_refused_small_mark_is_doubtful():
    marks = row(0.5, 0.5)
    dash = mark(marks[1].box.x + WIDTH + GAP, distance=3.0, h=int(0.2 * HEIGHT), w=int(0.6 * HEIGHT))
    blot = mark(dash.box.x + dash.box.w + GAP, distance=3.0, h=int(0.5 * HEIGHT), w=int(0.4 * HEIGHT))
    assert verdicts(decide([*marks, dash, blot, mark(blot.box.x + WIDTH + GAP)])) == [
        "4",
        "4",
        "x",
        "4?",
        "4",
    ]


def test_a_wide_refused_mark_as_tall_as_most_digits_is_doubtful_not_a_dash():
    # a 5 whose long bar makes it three times wider than tall (a real validation digit did), at 65% of
    # the digits' height: silently dropped as a dash before
    marks = row(0.5, 0.5)
    wide = mark(marks[1].box.x + WIDTH + GAP, distance=3.0, h=int(0.65 * HEIGHT), w=int(2.1 * HEIGHT))
    assert verdicts(decide([*marks, wide, mark(wide.box.x + wide.box.w + GAP)])) == ["4", "4", "4?", "4"]


def test_a_1_leaning_like_a_slash_is_doubtful_at_either_end_only():
    steep = stroke(SLASH_SLANT + 8)
    assert slant(steep) > SLASH_SLANT and abs(slant(stroke())) < 2
    marks = [mark(50 + k * (WIDTH + GAP), digit=1, field=steep) for k in range(3)]
    decided = decide(marks)
    assert verdicts(decided) == ["1?", "1", "1?"]
    assert decided[0].doubt == DOUBT_SLASH
    assert verdicts(decide(marks, Rules(slash=False))) == ["1", "1", "1"]


def test_pieces_of_a_non_digit_are_no_digits_of_the_number():
    far = (GAP_RATIO + 1) * GAP
    # the two halves of a # before the number: the left one reads as a 7 the check accepts
    halves = [mark(0, digit=7, distance=0.8), mark(WIDTH, distance=2.5)]
    marks = halves + row(0.5, 0.5, start=2 * WIDTH + far)
    assert verdicts(decide(marks, pieces=frozenset({0, 1}))) == ["x", "x", "4", "4"]
    # without the rule the half read as a 7 is a digit, and keeps the other half in the number
    assert verdicts(decide(marks, Rules(pieces=False), pieces=frozenset({0, 1}))) == ["7", "4?", "4", "4"]
    # a piece inside the number is doubtful, not dropped
    inside = row(0.5, 2.5, 0.8, 0.5)
    assert verdicts(decide(inside, pieces=frozenset({1, 2}))) == ["4", "4?", "4?", "4"]


def test_a_mark_alone_or_a_row_without_digits_is_left_to_the_check():
    assert verdicts(decide([mark(0, distance=3.0)])) == ["x"]
    assert verdicts(decide(row(3.0, 2.0, 4.0))) == ["x", "x", "x"]  # a word: no number to lose a digit of


def test_a_doubtful_mark_is_unsure_with_its_reason_even_when_the_model_is_sure():
    probabilities = np.eye(10, dtype=np.float32)[1]
    prediction = prediction_from(probabilities, stroke(45), doubt=DOUBT_SLASH)
    assert prediction.status is Status.UNSURE and not prediction.sure
    assert prediction.label == "1?"
    assert prediction.headline == f"Not sure: 1 (100%), but {DOUBT_SLASH}"
    assert prediction_from(probabilities, stroke(), is_digit=False, doubt=DOUBT_SLASH).doubt == ""


def test_the_number_says_which_digits_are_unsure_and_how_confident_it_is():
    field = stroke()
    sure = prediction_from(np.eye(10, dtype=np.float32)[4], field)
    doubtful = prediction_from(np.eye(10, dtype=np.float32)[1], field, doubt=DOUBT_SLASH)
    unsure = prediction_from(np.array([0, 0, 0, 0.6, 0, 0.4, 0, 0, 0, 0], np.float32), field)
    no_digit = prediction_from(np.eye(10, dtype=np.float32)[7], field, is_digit=False)
    boxes = [DigitBox(k * 40, 0, 30, 50, np.zeros((50, 30), np.uint8)) for k in range(5)]
    reading = Reading(boxes, [no_digit, sure, doubtful, sure, unsure])
    assert reading.text == "4143"
    assert reading.unsure_positions == [2, 4] and not reading.sure
    assert reading.summary == "4143 (not sure of the 2nd and 4th digits)"
    assert reading.confidence == pytest.approx(0.6)
    plain = Reading(boxes[:2], [sure, sure])
    assert plain.summary == "44" and plain.sure and plain.confidence == pytest.approx(1.0)
    assert Reading(boxes[:1], [doubtful]).summary == "1 (not sure of the 1st digit)"


@pytest.mark.parametrize(
    ("number", "said"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (21, "21st")],
)
def test_ordinals(number, said):
    assert ordinal(number) == said
