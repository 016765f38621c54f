"""How people really write: test data for the reader from real slanted digits and drawn handwriting styles.

- `slanted_pool`: real digits where the 1s and 7s are only the most slanted ones (the 5% of each that lean
  most), so every 1 and 7 written from the pool leans like the steepest real writers' do.
- `STYLES`: digits in the styles MNIST has few of (a 1 with a flag, with a flag and a base, a crossed 7, an
  open 4, a 9 with a straight tail, a flat-topped 3, an 8 of two loops), as strokes that vary from seed to
  seed like handwriting does (slant, proportions, tremor, where the flag or bar sits);
  `style_drawing` draws one with the mouse on the web app's canvas at a chosen pen width, and
  `style_pool` gives 28x28 images of them for paper photos (testdata.synthetic.paper_photo).

Tuning and reporting sets are kept apart by seed (TUNING_SEEDS, REPORTING_SEEDS) and by the half of the
validation digits they come from (`validation_half`): decisions are tuned on the first, reported on the other.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from testdata.synthetic import _arc, _fit, _resample, _wobble

TUNING_SEEDS = range(0, 1000)  # seeds (and the even-numbered validation digits) looked at while tuning
REPORTING_SEEDS = range(100_000, 101_000)  # seeds (and the odd-numbered ones) used only to report
FITTING_SEEDS = range(50_000, 51_000)  # seeds of the drawings the digit check is fitted on (fit_novelty.py)
SET_NAMES = ("tuning", "reporting")
SLANTED_SHARE = 0.05  # the most slanted 5% of the 1s and 7s
# A 1's flag as taught in much of Europe and Latin America: a short up-stroke, well above level. (A long,
# shallow flag is a 7's bar to every model here, and to many readers: that is why such writers cross 7s.)
FLAG_LENGTH = (0.2, 0.45)  # share of the 1's height
FLAG_ANGLE = (35.0, 65.0)  # degrees above level
PEN_WIDTHS = {"thin": 8, "mouse": 18, "marker": 30}  # px on the 280 px canvas (the apps' pen is 18)


def first_seed(which: str) -> int:
    """The first seed of the tuning or the reporting set."""
    if which not in SET_NAMES:
        raise ValueError(f"the set is one of {SET_NAMES}, not {which!r}")
    return (TUNING_SEEDS if which == "tuning" else REPORTING_SEEDS).start


def validation_half(images: np.ndarray, labels: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    """The even-numbered (tuning) or odd-numbered (reporting) validation digits."""
    start = 0 if first_seed(which) == TUNING_SEEDS.start else 1
    return images[start::2], labels[start::2]


def slant(image: np.ndarray) -> float:
    """How far a digit's ink leans right of upright, in degrees (from its second moments)."""
    moments = cv2.moments(np.asarray(image, np.float32))
    return float(np.degrees(np.arctan2(-moments["mu11"], moments["mu02"])))


def slanted_pool(
    images: np.ndarray, labels: np.ndarray, share: float = SLANTED_SHARE, digits: tuple[int, ...] = (1, 7)
) -> tuple[np.ndarray, np.ndarray]:
    """The digits with each of `digits` kept only among its `share` most slanted (either way) examples."""
    keep = np.ones(len(labels), bool)
    for digit in digits:
        which = np.flatnonzero(labels == digit)
        lean = np.abs([slant(images[k]) for k in which])
        keep[which[lean < np.quantile(lean, 1 - share)]] = False
    return images[keep], labels[keep]


def slanted_number(rng: np.random.Generator, slanted: tuple[int, ...] = (1, 7)) -> str:
    """A number of 3 to 6 digits with at least one of the `slanted` digits, at a random place."""
    digits = [int(d) for d in rng.integers(0, 10, int(rng.integers(3, 7)))]
    digits[int(rng.integers(0, len(digits)))] = int(rng.choice(slanted))
    return "".join(map(str, digits))


# ---------------------------------------------------------------------------------------------- styles


def _one_with_flag(rng: np.random.Generator, base: bool) -> list[list[tuple[float, float]]]:
    """A 1 with a flag (an up-stroke into its top, FLAG_LENGTH of its height, FLAG_ANGLE above level),
    and with a base when `base`."""
    length, angle = rng.uniform(*FLAG_LENGTH), math.radians(rng.uniform(*FLAG_ANGLE))
    top_x = 0.6
    strokes = [[(top_x - length * math.cos(angle), length * math.sin(angle)), (top_x, 0.0), (top_x, 1.0)]]
    if base:
        half = rng.uniform(0.25, 0.4)
        strokes.append([(top_x - half, 1.0), (top_x + half, 1.0)])
    return strokes


def _crossed_seven(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A 7 with a bar across its stem."""
    foot = rng.uniform(0.2, 0.45)
    bar_y = rng.uniform(0.45, 0.6)
    stem_x = 1.0 - (1.0 - foot) * bar_y
    half = rng.uniform(0.18, 0.3)
    return [
        [(0.0, rng.uniform(0.0, 0.08)), (1.0, 0.0), (foot, 1.0)],
        [(stem_x - half, bar_y), (stem_x + half, bar_y)],
    ]


def _open_four(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A 4 whose top is open: a left stroke down and across, and the upright apart from it."""
    corner_y = rng.uniform(0.5, 0.65)
    upright = rng.uniform(0.65, 0.8)
    return [
        [(rng.uniform(0.05, 0.25), 0.0), (0.0, corner_y), (1.0, corner_y)],
        [(upright, rng.uniform(0.0, 0.15)), (upright, 1.0)],
    ]


def _nine_straight_tail(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A 9: a loop, then a straight tail down from its right side."""
    height = rng.uniform(0.32, 0.45)
    loop = _arc(0.45, height / 2 + 0.02, 0.43, height / 2, 0, -360, 36)
    return [loop + [(0.88, 1.0)]]


def _flat_top_three(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A 3 with a flat top: a bar, a diagonal down to the middle, then the lower bowl."""
    middle = rng.uniform(0.38, 0.48)
    bowl = _arc(0.45, (1 + middle) / 2, 0.48, (1 - middle) / 2, -90, 150, 24)
    return [[(0.05, 0.0), (0.95, 0.0), (bowl[0][0], middle)] + bowl[1:]]


def _eight_two_loops(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """An 8 drawn as two loops, one on the other."""
    waist = rng.uniform(0.42, 0.5)
    return [
        _arc(0.5, waist / 2, rng.uniform(0.3, 0.38), waist / 2, 90, 450, 30),
        _arc(0.5, (1 + waist) / 2, rng.uniform(0.4, 0.48), (1 - waist) / 2, -90, 270, 30),
    ]


STYLES = {
    "1 with a flag": (1, lambda rng: _one_with_flag(rng, base=False)),
    "1 with a flag and a base": (1, lambda rng: _one_with_flag(rng, base=True)),
    "crossed 7": (7, _crossed_seven),
    "open 4": (4, _open_four),
    "9 with a straight tail": (9, _nine_straight_tail),
    "flat-topped 3": (3, _flat_top_three),
    "8 of two loops": (8, _eight_two_loops),
}


def style_strokes(style: str, rng: np.random.Generator) -> tuple[int, list[np.ndarray]]:
    """The digit a style writes and its strokes in a unit box, slanted, stretched and wobbled by `rng`."""
    digit, make = STYLES[style]
    arrays = [np.asarray(stroke, np.float64) for stroke in make(rng)]
    angle = math.radians(rng.normal(0, 5))
    shear = rng.normal(0.1, 0.15)  # most writers lean a little to the right, some to the left
    stretch = rng.uniform(0.85, 1.15)
    transform = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    transform = transform @ np.array([[stretch, -shear], [0, 1 / stretch]])
    return digit, [_wobble(_resample(stroke, 0.01), 0.006, rng) @ transform.T for stroke in arrays]


def board_strokes(style: str, seed: int, step: int = 1) -> list[list[tuple[float, float]]]:
    """A digit of the style as pen strokes on a 280x280 board (200 px tall, 60 px from the left and 40
    from the top), every `step`-th point: what the browser tests draw with the mouse."""
    _, strokes = style_strokes(style, np.random.default_rng(seed))
    low = np.concatenate(strokes).min(axis=0)
    return [
        [(60 + 200 * (x - low[0]), 40 + 200 * (y - low[1])) for x, y in stroke[::step]] for stroke in strokes
    ]


def style_drawing(style: str, seed: int, pen: int = PEN_WIDTHS["mouse"], size: int = 280) -> np.ndarray:
    """A digit of the style drawn with the mouse on a black size x size canvas (uint8, ink white)."""
    rng = np.random.default_rng(seed)
    _, strokes = style_strokes(style, rng)
    height = rng.uniform(0.55, 0.75) * size
    left, top = rng.uniform(0.1 * size, 0.9 * size - height, 2)
    strokes = _fit(strokes, (left, top, height, height))
    canvas = np.zeros((size, size), np.uint8)
    shift = 4  # sub-pixel precision for cv2's drawing
    for points in strokes:
        cv2.polylines(
            canvas, [np.round(points * 2**shift).astype(np.int32)], False, 255, pen, cv2.LINE_AA, shift
        )
    return canvas


def style_pool(
    style: str, count: int, seed: int, digits: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """`digits` (28x28 images, labels) with the style's digit replaced by `count` drawings of the style,
    shrunk to 28x28 with MNIST's pen: for paper photos whose digits of that kind are written in the style."""
    images, labels = digits
    digit = STYLES[style][0]
    drawn = [
        cv2.resize(style_drawing(style, seed + k, pen=28), (28, 28), interpolation=cv2.INTER_AREA)
        for k in range(count)
    ]
    keep = labels != digit
    return (
        np.concatenate([images[keep], np.stack(drawn)]),
        np.concatenate([labels[keep], np.full(count, digit, labels.dtype)]),
    )
