"""Write files atomically (a temporary file beside the target, then a rename or a link), so no half-written
file is ever seen, and, where asked, without replacing a file that is already there. The notebook writes its
data, models and results the same way (scripts/sync_notebook.py copies this into it)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

MAX_NAME_TRIES = 1000  # write_new_image tries name.png, name-2.png ... up to this many names
# The names of write_atomically's temporary files: hidden, with the target's extension (Keras and NumPy go by
# it), e.g. ".train.k3x9q2ab.tmp.csv"; one such file that stays is the leftover of a write that was killed.
TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp(\.\w+)?")


def _current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _link_without_replacing(temporary: Path, target: Path) -> None:
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
        with open(temporary, "rb") as source, open(target, "xb") as copy:
            shutil.copyfileobj(source, copy)
        os.chmod(target, 0o666 & ~_current_umask())


def write_atomically(path: str | Path, write: Callable[[Path], object], replace: bool = True) -> Path:
    """Write a file through `write(temporary_path)`, then give it its name in one step: readers see the old
    file or the whole new one, never part of one, and a failed write leaves the old file as it was.

    With replace=False an existing file is left alone and FileExistsError raised. The folder must exist.
    """
    target = Path(path)
    descriptor, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}"
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; give what open() would
        if replace:
            os.replace(temporary, target)
        else:
            _link_without_replacing(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def write_bytes_atomic(path: str | Path, data: bytes, replace: bool = True) -> Path:
    """Write `data` to `path` atomically (see write_atomically); replace=False never replaces a file."""
    return write_atomically(path, lambda temporary: temporary.write_bytes(data), replace=replace)


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
