"""Draw what was read onto an image: a box and a label per digit (OpenCV drawing, BGR)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from digitkit.segment import DigitBox

BOX_COLOUR = (0, 200, 0)  # BGR
LABEL_COLOUR = (0, 0, 255)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A uint8 BGR copy of a gray, BGR or BGRA image, ready to draw on."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        values = array.astype(np.float32)
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0
        array = np.clip(values * scale, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    return array.copy()


def annotate(image: np.ndarray, boxes: Sequence[DigitBox], probabilities: np.ndarray) -> np.ndarray:
    """A BGR copy of the image with each digit boxed and labelled with its reading and confidence."""
    canvas = as_bgr(image)
    if not boxes:
        return canvas
    # labels sized to the digits, so they are readable on small photos and on large scans alike
    scale = max(0.35, float(np.median([box.h for box in boxes])) / 90)
    thickness = max(1, round(scale * 1.5))
    for box, row in zip(boxes, probabilities, strict=True):
        digit = int(np.argmax(row))
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w - 1, box.y + box.h - 1), BOX_COLOUR, thickness)
        label = f"{digit} {row[digit]:.0%}"
        (_, text_height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thickness)
        above = box.y - 4
        baseline_y = above if above - text_height >= 0 else box.y + box.h + text_height + 4
        cv2.putText(
            canvas,
            label,
            (box.x, baseline_y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * scale,
            LABEL_COLOUR,
            thickness,
            cv2.LINE_AA,
        )
    return canvas
