"""Decode uploaded or on-disk image files into OpenCV arrays, with one clear message per kind of bad file."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)


class ImageReadError(ValueError):
    """The file is missing, empty, not an image, corrupt, truncated or too large."""


def _to_bgr(image: Image.Image) -> np.ndarray:
    """An 8-bit BGR array; transparency is laid over white paper, 16-bit and float images are rescaled."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = np.zeros_like(values) if high == low else (values - low) * (255.0 / (high - low))
        gray = scaled.astype(np.uint8)
        return np.repeat(gray[:, :, np.newaxis], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Decode an image file's bytes to an 8-bit BGR array (H, W, 3); ImageReadError names the file."""
    if not data:
        raise ImageReadError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size  # read from the header: nothing is decoded yet
            if width * height > MAX_PIXELS:
                raise ImageReadError(
                    f"{name}: the image is too large ({width}x{height} pixels;"
                    f" at most {MAX_PIXELS // 1_000_000} megapixels)"
                )
            if width == 0 or height == 0:
                raise ImageReadError(f"{name}: the image has no pixels ({width}x{height})")
            image.load()
            image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
    except ImageReadError:
        raise
    except UnidentifiedImageError as error:
        raise ImageReadError(f"{name}: not an image (PNG, JPEG, BMP, GIF, TIFF or WebP expected)") from error
    except Image.DecompressionBombError as error:
        raise ImageReadError(
            f"{name}: the image is too large (over {MAX_PIXELS // 1_000_000} megapixels: a decompression bomb?)"
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"{name}: the image is corrupt or truncated ({error})") from error
    return _to_bgr(image)


def read_image_file(path: str | Path) -> np.ndarray:
    """Read and decode an image file from disk to BGR; ImageReadError names the file when it can't."""
    file_path = Path(path)
    if not file_path.exists():
        raise ImageReadError(f"{file_path}: file not found")
    if not file_path.is_file():
        raise ImageReadError(f"{file_path}: not a file")
    try:
        data = file_path.read_bytes()
    except OSError as error:
        raise ImageReadError(f"{file_path}: cannot read the file ({error.strerror})") from error
    return decode_image(data, str(file_path))
