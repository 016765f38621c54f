"""Pixel formats in one place: any gray, BGR or BGRA array (uint8, other integers, bool or float) to the
8-bit gray or BGR image the rest of digitkit works on, and the level of an image's border."""

from __future__ import annotations

import cv2
import numpy as np

WORK_PIXELS = 4_000_000  # digitkit reads and searches images at most this many pixels large ...
WORK_SIDE = 4096  # ... and this long a side; larger ones are shrunk first (a 1 x 39,000,000 strip too)


class ImageArrayError(ValueError):
    """The array is not an image: a shape other than (H, W), (H, W, 1|3|4), non-numbers, NaN or infinities."""


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """The array's values on the 0..255 scale as uint8.

    bool is 0/255; floats up to 1.0 are taken as 0..1; integers and floats above 255 (16-bit images) are
    scaled by their maximum; negative values become 0. ImageArrayError for NaN, infinities or non-numbers.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageArrayError(f"expected numeric pixel values, got dtype {array.dtype}")
    values = array.astype(np.float64 if array.dtype == np.float64 else np.float32)  # float64: no overflow
    if not np.all(np.isfinite(values)):
        raise ImageArrayError("the image holds NaN or infinite values")
    peak = float(values.max()) if values.size else 0.0
    if np.issubdtype(array.dtype, np.floating) and peak <= 1.0:
        values *= 255.0
    elif peak > 255.0:
        values *= 255.0 / peak
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)  # + 0.5: rounded, so k/255 comes back as k


def _channels(image: np.ndarray) -> np.ndarray:
    """The image as a 2-D gray array or an (H, W, 3|4) colour one; ImageArrayError for any other shape."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageArrayError(f"expected a gray, BGR or BGRA image, got shape {array.shape}")
    return array


def to_gray(image: np.ndarray) -> np.ndarray:
    """The image as 2-D uint8 gray (a gray uint8 input is returned as is, not copied)."""
    array = _to_uint8(_channels(image))
    if array.ndim == 3:
        if array.size == 0:
            return np.zeros(array.shape[:2], np.uint8)
        return cv2.cvtColor(np.ascontiguousarray(array[:, :, :3]), cv2.COLOR_BGR2GRAY)
    return array


def to_bgr(image: np.ndarray) -> np.ndarray:
    """A uint8 BGR copy of the image, ready to draw on."""
    array = _to_uint8(_channels(image))
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    return array[:, :, :3].copy()  # a C-ordered copy


def work_scale(height: int, width: int) -> float:
    """The factor (at most 1) that brings an image of this size within WORK_PIXELS and WORK_SIDE."""
    pixels, side = max(1, height * width), max(1, height, width)
    return min(1.0, (WORK_PIXELS / pixels) ** 0.5, WORK_SIDE / side)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(width, height) scaled by `scale`, at least 1 pixel each: the size cv2.resize and PIL want."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def border_median(gray: np.ndarray) -> float:
    """Median of the image's outer frame (a twentieth of its shorter side): what the paper or board looks like."""
    frame = max(1, min(gray.shape[:2]) // 20)
    border = np.concatenate(
        [gray[:frame].ravel(), gray[-frame:].ravel(), gray[:, :frame].ravel(), gray[:, -frame:].ravel()]
    )
    return float(np.median(border))


def canvas_to_gray(rgba: np.ndarray) -> np.ndarray:
    """The canvas' RGBA pixels (white ink on black) as a uint8 grayscale image, transparent parts black."""
    pixels = np.asarray(rgba)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB or RGBA canvas image, got shape {pixels.shape}")
    gray = pixels[:, :, :3].max(axis=2).astype(np.float32)
    if pixels.shape[2] == 4:
        gray *= pixels[:, :, 3].astype(np.float32) / 255.0
    return gray.round().astype(np.uint8)
