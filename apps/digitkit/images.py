"""Decode uploaded or on-disk image files into OpenCV arrays, with one clear message per kind of bad file."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from digitkit.pixels import scaled_size, work_scale

MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs) ...
MAX_SIDE = 20_000  # ... and so are longer sides (Pillow keeps a pointer per row: 1 x 39,000,000 costs 0.7 GB)
MAX_FILE_BYTES = 2**28  # files on disk over 256 MB are not read (40 MP even as 16-bit RGBA TIFF fits)
ORIENTATION_TAG = 0x0112  # EXIF: how the camera held the picture
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")  # only these are opened (JPEG covers MPO)
FORMAT_NAMES = "PNG, JPEG, BMP, GIF, TIFF or WebP"
TURNS = {  # EXIF orientation: the turn or mirror that makes the picture upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
OUTLIERS_PER_PIXEL = 1e-5  # a deep image's stretch leaves out this share (and one) of its darkest and
# brightest pixels: a scanner's hot or dead pixel would squeeze the rest flat; a digit has hundreds of ink pixels


class ImageReadError(ValueError):
    """The file is missing, empty, not an image, corrupt, truncated or too large."""


def _stretched(values: np.ndarray) -> np.ndarray:
    """Deep gray values (16-bit, 32-bit, float) stretched to 0..255 between their darkest and brightest,
    a few outliers aside (OUTLIERS_PER_PIXEL), as uint8."""
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    flat = values.ravel()
    if flat.size == 0:
        return np.zeros(values.shape, np.uint8)
    left_out = min(1 + int(flat.size * OUTLIERS_PER_PIXEL), (flat.size - 1) // 2)
    low, high = np.partition(flat, [left_out, flat.size - 1 - left_out])[[left_out, flat.size - 1 - left_out]]
    if high == low:
        return np.zeros(values.shape, np.uint8)
    return np.clip((values - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def _paper_under(rgba: Image.Image) -> tuple[int, int, int, int]:
    """White paper under dark ink, black under light ink: the shade the visible pixels stand out from most."""
    gray_alpha = np.asarray(rgba.convert("LA"), dtype=np.float32)
    alpha = gray_alpha[:, :, 1]
    shown = float(alpha.sum())
    light_ink = shown > 0 and float((gray_alpha[:, :, 0] * alpha).sum()) / shown > 127.5
    return (0, 0, 0, 255) if light_ink else (255, 255, 255, 255)


def _to_bgr(image: Image.Image) -> np.ndarray:
    """An 8-bit BGR array; transparency is laid over paper that the ink stands out from (white under dark
    ink, black under light ink), 16-bit and float images are stretched to 8 bits."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return cv2.cvtColor(_stretched(np.asarray(image, dtype=np.float64)), cv2.COLOR_GRAY2BGR)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, _paper_under(rgba)), rgba)
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
            image = Image.open(io.BytesIO(data), formats=FORMATS)  # ICO, PSD, EPS...: not opened at all
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
            return _to_bgr(_upright(_shrunk(image), _orientation(image)))
    except ImageReadError:
        raise
    except UnidentifiedImageError as error:
        raise ImageReadError(f"{name}: not an image ({FORMAT_NAMES} expected)") from error
    except Image.DecompressionBombError as error:
        raise ImageReadError(
            f"{name}: the image is too large (over {MAX_PIXELS // 1_000_000} megapixels: a decompression bomb?)"
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageReadError(f"{name}: the image is corrupt or truncated ({error})") from error


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation of a (phone) photo: 1 when upright, and when its EXIF cannot be read."""
    try:
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # Pillow's EXIF reader raises struct.error, KeyError, TypeError... on damaged tags
        return 1
    return orientation if isinstance(orientation, int) else 1


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """The image turned or mirrored as its EXIF orientation says; the EXIF itself is left as it is."""
    turn = TURNS.get(orientation)
    return image if turn is None else image.transpose(turn)


def first_page_note(source: bytes | str | Path) -> str:
    """For an image file (its bytes or path) of several pages, words to add to "no digits found": only the
    first page was read; "" for a file of one page."""
    return (
        " on its first page (the file has more pages; only the first is read)"
        if has_more_pages(source)
        else ""
    )


def has_more_pages(source: bytes | str | Path) -> bool:
    """True when an image file (its bytes or its path) holds more than the one page the apps read: a
    multi-page TIFF, an animated GIF, PNG or WebP."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(
                io.BytesIO(source) if isinstance(source, bytes) else source, formats=FORMATS
            ) as image:
                return bool(getattr(image, "is_animated", False))
    except Exception:  # a file that cannot be opened has no second page to mention
        return False


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
