"""Write files atomically (a temporary file beside the target, then os.replace), so no half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np


def _current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` so readers see the old file or the whole new one, never a partial one."""
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; give what open() would
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Encode an image by its file extension (.png, .jpg, ...) and write it atomically."""
    target = Path(path)
    try:
        encoded, data = cv2.imencode(target.suffix or ".png", image)
    except cv2.error as error:
        raise ValueError(f"{target}: cannot write an image of type '{target.suffix}'") from error
    if not encoded:
        raise ValueError(f"{target}: cannot encode the image as '{target.suffix}'")
    return write_bytes_atomic(target, data.tobytes())
