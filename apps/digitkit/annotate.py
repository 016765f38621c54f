"""Draw what was read onto an image: a box and a label per mark, green when sure, orange with '?' when not,
grey with 'x' for a mark that is not a digit."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from digitkit.pixels import scaled_size, to_bgr
from digitkit.prediction import Prediction, Status
from digitkit.segment import DigitBox

SURE_COLOUR = (0, 160, 0)  # BGR: green
UNSURE_COLOUR = (0, 120, 230)  # BGR: orange
NOT_A_DIGIT_COLOUR = (128, 128, 128)  # BGR: grey
STATUS_COLOURS = {
    Status.SURE: SURE_COLOUR,
    Status.UNSURE: UNSURE_COLOUR,
    Status.NOT_A_DIGIT: NOT_A_DIGIT_COLOUR,
}
LABEL_TEXT_COLOUR = (255, 255, 255)
DISPLAY_WIDTH = (
    900  # small images are enlarged to this width (at most 4x) so boxes and labels stay legible ...
)
MAX_DISPLAY_WIDTH = 1800  # ... and big ones shrunk to this (a page column or a screen is narrower anyway) ...
MAX_DISPLAY_HEIGHT = 2400  # ... and to this height
FONT = cv2.FONT_HERSHEY_SIMPLEX


def colour_of(prediction: Prediction) -> tuple[int, int, int]:
    """The BGR colour the apps show a prediction in: green when sure, orange when not, grey for no digit."""
    return STATUS_COLOURS[prediction.status]


def display_scale(height: int, width: int) -> float:
    """The factor that makes an image of this size comfortable to look at (see DISPLAY_WIDTH)."""
    scale = min(4.0, DISPLAY_WIDTH / width) if width < DISPLAY_WIDTH else min(1.0, MAX_DISPLAY_WIDTH / width)
    return min(scale, MAX_DISPLAY_HEIGHT / height)


def annotate(
    image: np.ndarray,
    boxes: Sequence[DigitBox],
    predictions: Sequence[Prediction],
    scale: float | None = None,
) -> np.ndarray:
    """A BGR copy of the image, resized by `scale` (default: display_scale), with each digit boxed and labelled.

    Labels are sized to their digit; unsure digits are orange and labelled with a '?'.
    """
    height, width = np.asarray(image).shape[:2]
    scale = display_scale(height, width) if scale is None else scale
    canvas = to_bgr(image)
    if scale != 1:
        shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        canvas = cv2.resize(canvas, scaled_size(height, width, scale), interpolation=shrink)
    thickness = max(2, round(max(canvas.shape[:2]) / 400))
    for box, prediction in zip(boxes, predictions, strict=True):
        x, y, w, h = (round(v * scale) for v in (box.x, box.y, box.w, box.h))
        colour = colour_of(prediction)
        cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), colour, thickness)
        font_scale = max(0.5, h / 90)
        (text_w, text_h), baseline = cv2.getTextSize(prediction.label, FONT, font_scale, thickness)
        top = y - text_h - baseline - 2 * thickness
        if top < 0:  # no room above the box: label inside it
            top = y
        bottom = top + text_h + baseline + thickness
        cv2.rectangle(canvas, (x, top), (x + text_w + 2 * thickness, bottom), colour, -1)
        origin = (x + thickness, top + text_h + thickness)
        cv2.putText(
            canvas, prediction.label, origin, FONT, font_scale, LABEL_TEXT_COLOUR, thickness, cv2.LINE_AA
        )
    return canvas
