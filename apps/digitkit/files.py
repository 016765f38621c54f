"""Write files atomically (a temporary file beside the target, then a rename or a link), so no half-written
file is ever seen, and, where asked, without replacing a file that is already there."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

MAX_NAME_TRIES = 1000  # write_new_image tries name.png, name-2.png ... up to this many names


def _current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _link_without_replacing(temporary: str, target: Path, data: bytes) -> None:
    """Give the written temporary file the target's name; FileExistsError if that name is taken."""
    try:
        os.link(temporary, target)  # fails if the target exists: an atomic "create, never replace"
    except OSError as error:
        if isinstance(error, FileExistsError) or error.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
        ):
            raise
        # a file system without hard links: exclusive creation (not atomic, but never replaces a file)
        with open(target, "xb") as handle:
            handle.write(data)
        os.chmod(target, 0o666 & ~_current_umask())


def write_bytes_atomic(path: str | Path, data: bytes, replace: bool = True) -> Path:
    """Write `data` to `path` so readers see the old file or the whole new one, never a partial one.

    With replace=False an existing file is left alone and FileExistsError raised.
    """
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; give what open() would
        if replace:
            os.replace(temporary, target)
        else:
            _link_without_replacing(temporary, target, data)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def _encoded(target: Path, image: np.ndarray) -> bytes:
    """The image encoded by the target's file extension (.png, .jpg, ...); ValueError if it can't be."""
    try:
        encoded, data = cv2.imencode(target.suffix or ".png", image)
    except cv2.error as error:
        raise ValueError(f"{target}: cannot write an image of type '{target.suffix}'") from error
    if not encoded:
        raise ValueError(f"{target}: cannot encode the image as '{target.suffix}'")
    return data.tobytes()


def write_image(path: str | Path, image: np.ndarray, replace: bool = True) -> Path:
    """Encode an image by its file extension and write it atomically (replace=False: never over a file)."""
    target = Path(path)
    return write_bytes_atomic(target, _encoded(target, image), replace=replace)


def write_new_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an image to `path` or, if taken, the first free `stem-2`, `stem-3`...; returns the path used."""
    target = Path(path)
    data = _encoded(target, image)
    for number in range(1, MAX_NAME_TRIES + 1):
        candidate = target if number == 1 else target.with_name(f"{target.stem}-{number}{target.suffix}")
        try:
            return write_bytes_atomic(candidate, data, replace=False)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"{MAX_NAME_TRIES} files named like this exist already", str(target))
