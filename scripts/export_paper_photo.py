"""Export docs/paper_photo.png: a generated notebook-paper photo and how the CNN reads it.

Left, the photo (scripts/testdata/synthetic.py: real MNIST digits retraced with a ballpoint on ruled paper,
with a shadow, a tilt and `No.` before the number); right, the ink the reader sees once the light is evened
out and the page's lines are gone, with each digit boxed and labelled as the apps do, and the marks that are
not digits boxed in grey with an x.

Usage: .venv/bin/python scripts/export_paper_photo.py [--seed 507] [--out docs/paper_photo.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from digitkit.annotate import annotate
from digitkit.files import write_image
from digitkit.models import DEFAULT_MODEL_DIR, load_model
from digitkit.novelty import load_digit_check
from digitkit.pixels import to_gray
from digitkit.reading import read_digits
from digitkit.segment import ink_map
from notebook_helpers import ROOT
from testdata.synthetic import paper_photo


def figure(seed: int, text: str) -> tuple[np.ndarray, str]:
    """The side-by-side picture and what was read, as the apps read it (read_digits with the digit check)."""
    photo = paper_photo(text, seed=seed, kind="ruled", extras="No. ", underline=True)
    path = DEFAULT_MODEL_DIR / "cnn.keras"
    model = load_model(path)
    reading = read_digits(photo.image, model, load_digit_check(model, path))
    ink = 255 - ink_map(to_gray(photo.image))  # what the segmenter sees (it works on gray)
    panel = annotate(ink, reading.boxes, reading.predictions, scale=1)
    gap = np.full((photo.image.shape[0], 12, 3), 255, np.uint8)
    return np.hstack([photo.image, gap, panel]), reading.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=507)
    parser.add_argument("--text", default="4207")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "paper_photo.png")
    args = parser.parse_args()
    picture, read = figure(args.seed, args.text)
    height, width = picture.shape[:2]
    picture = cv2.resize(picture, (width * 2 // 3, height * 2 // 3), interpolation=cv2.INTER_AREA)
    write_image(args.out, picture)
    print(f"{args.out}: No. {args.text} read as {read!r}")


if __name__ == "__main__":
    main()
