"""Turn a drawing or a crop into the 784 numbers the models were trained on, the way MNIST was made."""

from __future__ import annotations

import cv2
import numpy as np

from digitkit.pixels import border_median, to_gray

FIELD_SIZE = 28  # MNIST images are 28x28 ...
DIGIT_SIZE = 20  # ... with the digit's longest side scaled to 20 px ...
FIELD_CENTRE = 14.0  # ... and its centre of mass at (14, 14) (row, column), as measured on MNIST.
INK_LEVEL = 0.2  # after normalising, a pixel brighter than this (0..1) counts as ink
MIN_CONTRAST = 0.08  # ink must stand out from the background by this much (0..1)


class EmptyImageError(ValueError):
    """The image holds no ink: there is nothing to recognise."""


def _as_unit_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D float32 copy in [0, 1] of any image digitkit.pixels accepts; EmptyImageError for 0 pixels."""
    if np.asarray(image).size == 0:
        raise EmptyImageError("the image is empty (0 pixels)")
    return to_gray(image).astype(np.float32) / 255.0


def _ink_bright(gray: np.ndarray, invert: bool | None) -> np.ndarray:
    """Make ink bright on a dark background and stretch it so the background is 0 and the ink 1."""
    if invert is None:
        invert = border_median(gray) > 0.5
    ink = 1.0 - gray if invert else gray
    # The darker of the border's median and the image's 10th percentile: a tight crop of a '1' has ink
    # along most of its border, while a photo's paper may be uneven.
    background = min(border_median(ink), float(np.percentile(ink, 10)))
    peak = float(ink.max())
    if peak - background < MIN_CONTRAST:
        return np.zeros_like(ink)
    stretched = np.clip((ink - background) / (peak - background), 0.0, 1.0)
    stretched[stretched < INK_LEVEL / 2] = 0.0  # faint noise would pull the centre of mass about
    return stretched


def has_ink(gray: np.ndarray, invert: bool | None = None) -> bool:
    """True when the image holds something to recognise (ink that stands out from the background)."""
    try:
        return bool((_ink_bright(_as_unit_gray(gray), invert) > INK_LEVEL).any())
    except EmptyImageError:
        return False


def _scale_to_digit_size(digit: np.ndarray) -> np.ndarray:
    """Scale so the longest side is DIGIT_SIZE px, keeping the aspect ratio (area averaging when shrinking)."""
    height, width = digit.shape
    factor = DIGIT_SIZE / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))  # cv2 wants (width, height)
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    scaled = np.clip(cv2.resize(digit, size, interpolation=interpolation), 0.0, 1.0)
    peak = float(scaled.max())
    return (
        scaled / peak if peak > 0 else scaled
    )  # averaging dims the strokes; MNIST's strokes peak at full brightness


def _place_by_centre_of_mass(digit: np.ndarray) -> np.ndarray:
    """Paste the digit into a 28x28 field so its centre of mass lands on (14, 14), never cutting ink off."""
    height, width = digit.shape
    rows, cols = np.indices(digit.shape)
    total = float(digit.sum())
    centre_row = float((rows * digit).sum()) / total
    centre_col = float((cols * digit).sum()) / total
    top = int(np.clip(round(FIELD_CENTRE - centre_row), 0, FIELD_SIZE - height))
    left = int(np.clip(round(FIELD_CENTRE - centre_col), 0, FIELD_SIZE - width))
    field = np.zeros((FIELD_SIZE, FIELD_SIZE), dtype=np.float32)
    field[top : top + height, left : left + width] = digit
    return field


def to_model_input_image(gray: np.ndarray, invert: bool | None = None) -> np.ndarray:
    """The 28x28 float32 image in [0, 1] the model sees: ink bright, 20 px tall or wide, centred by mass.

    `invert=None` decides the polarity from the image's border (a light border means dark ink, so invert);
    True or False force it. Raises EmptyImageError when there is no ink.
    """
    ink = _ink_bright(_as_unit_gray(gray), invert)
    mask = ink > INK_LEVEL
    if not mask.any():
        raise EmptyImageError("the image holds no ink: draw or upload a digit first")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _place_by_centre_of_mass(_scale_to_digit_size(digit)).astype(np.float32)


def to_model_input(gray: np.ndarray, invert: bool | None = None) -> np.ndarray:
    """The model's input row for one image: shape (784,), float32 in [0, 1] (see to_model_input_image)."""
    return to_model_input_image(gray, invert).reshape(FIELD_SIZE * FIELD_SIZE)
