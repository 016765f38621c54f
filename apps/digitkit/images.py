"""Decode uploaded or on-disk image files into OpenCV arrays, with one clear message per kind of bad file."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitkit.pixels import scaled_size, work_scale

MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs) ...
MAX_SIDE = 20_000  # ... and so are longer sides (Pillow keeps a pointer per row: 1 x 39,000,000 costs 0.7 GB)
MAX_FILE_BYTES = 2**28  # files on disk over 256 MB are not read (40 MP even as 16-bit RGBA TIFF fits)
ORIENTATION_TAG = 0x0112  # EXIF: how the camera held the picture


class ImageReadError(ValueError):
    """The file is missing, empty, not an image, corrupt, truncated or too large."""


def _to_bgr(image: Image.Image) -> np.ndarray:
    """An 8-bit BGR array; transparency is laid over white paper, 16-bit and float images are rescaled."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = np.zeros_like(values) if high == low else (values - low) * (255.0 / (high - low))
        return cv2.cvtColor(scaled.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    if image.mode == "L":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_GRAY2BGR)
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _shrunk(image: Image.Image) -> Image.Image:
    """The image within WORK_PIXELS and WORK_SIDE (area-averaged), or as it is when it already fits."""
    width, height = image.size
    scale = work_scale(height, width)
    if scale == 1:
        return image
    if image.mode == "1":  # nearest-neighbour shrinking (all Pillow does for bilevel images) drops strokes
        image = image.convert("L")
    elif image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image.resize(scaled_size(height, width, scale), Image.Resampling.BOX)


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Decode an image file's bytes to an 8-bit BGR array (H, W, 3); ImageReadError names the file.

    Images over WORK_PIXELS or WORK_SIDE come back shrunk to fit (a JPEG is decoded smaller directly).
    """
    if not data:
        raise ImageReadError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb warnings, "Corrupt EXIF data"...: errors are ours to say
            image = Image.open(io.BytesIO(data))
            width, height = image.size  # read from the header: nothing is decoded yet
            if width * height > MAX_PIXELS:
                raise ImageReadError(
                    f"{name}: the image is too large ({width}x{height} pixels;"
                    f" at most {MAX_PIXELS // 1_000_000} megapixels)"
                )
            if max(width, height) > MAX_SIDE:
                raise ImageReadError(
                    f"{name}: the image is too long ({width}x{height} pixels; at most {MAX_SIDE} on a side)"
                )
            if width == 0 or height == 0:
                raise ImageReadError(f"{name}: the image has no pixels ({width}x{height})")
            if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 of the size where that still fits
                image.draft(image.mode, scaled_size(height, width, work_scale(height, width)))
            image.load()
            image = ImageOps.exif_transpose(image, in_place=False) if _rotated(image) else image
            return _to_bgr(_shrunk(image))
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


def _rotated(image: Image.Image) -> bool:
    """True when the image's EXIF says it is stored turned or mirrored (phone photos)."""
    return image.getexif().get(ORIENTATION_TAG, 1) != 1


def read_image_file(path: str | Path) -> np.ndarray:
    """Read and decode an image file from disk to BGR; ImageReadError names the file when it can't."""
    file_path = Path(path)
    if not file_path.exists():
        raise ImageReadError(f"{file_path}: file not found")
    if not file_path.is_file():
        raise ImageReadError(f"{file_path}: not a file")
    try:
        size = file_path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageReadError(
                f"{file_path}: the file is too large ({size / 2**20:.0f} MB; at most {MAX_FILE_BYTES >> 20} MB)"
            )
        data = file_path.read_bytes()
    except OSError as error:
        raise ImageReadError(f"{file_path}: cannot read the file ({error.strerror})") from error
    return decode_image(data, str(file_path))
