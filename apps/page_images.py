"""The web page's pictures, kept apart from the page so tests can call them: the canvas'
pixels as a drawing, an upload read and annotated, and a 28x28 model input blown up to look at.

Everything else the page shows (predictions, their words and colours, the models) comes from `digitkit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from digitkit.annotate import annotate
from digitkit.images import decode_image
from digitkit.pixels import canvas_to_gray
from digitkit.reading import Reading, read_digits

__all__ = ["UploadReading", "canvas_to_gray", "enlarge", "read_upload"]

if TYPE_CHECKING:
    import keras
    from digitkit.novelty import DigitCheck


@dataclass(frozen=True)
class UploadReading:
    """An uploaded image's digits, left to right, and the image annotated with them (BGR, sized to show)."""

    reading: Reading
    annotated: np.ndarray


def read_upload(model: keras.Model, data: bytes, name: str, check: DigitCheck | None = None) -> UploadReading:
    """Decode an uploaded file, read its digits with digitkit (marks that are not digits left out of the
    number when the model has a DigitCheck) and annotate them.

    Raises digitkit.images.ImageReadError for anything that is not a readable image of sane size, and
    digitkit.segment.TooManyDigitsError for a page of text or a pattern.
    """
    image = decode_image(data, name)
    reading = read_digits(image, model, check)
    return UploadReading(reading, annotate(image, reading.boxes, reading.predictions))


def enlarge(field: np.ndarray, scale: int = 5) -> np.ndarray:
    """A 28x28 input blown up with square pixels (a browser would blur it), as uint8 for st.image."""
    pixels = np.clip(np.asarray(field, dtype=np.float32), 0.0, 1.0)
    return (np.kron(pixels, np.ones((scale, scale), dtype=np.float32)) * 255).round().astype(np.uint8)
