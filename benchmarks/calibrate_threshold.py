"""Pick the web app's "Not sure" threshold from the validation data, and show the numbers behind it.

The notebook holds out 10% of Kaggle's train.csv (stratified, seed 42) as its validation set; the models
never train on it. This script rebuilds exactly that split, runs each saved model on it, and looks at how
often an answer given with a certain top probability is right ("local accuracy": the share of correct
answers among the WINDOW validation digits nearest in confidence).

Rule: the threshold is the lowest confidence above which the local accuracy never falls under
TARGET_ACCURACY (90%): an answer stated as fact should be right at least 9 times in 10. Below it, the
app says "Not sure" and lists the candidates. The value is rounded up to a multiple of 0.05, and the app
uses the largest over the models (so it holds for any model picked).

Caveat: validation digits are MNIST-style scans; drawings on the canvas are not quite MNIST, so the
model may be confidently wrong more often there than these numbers say.

Usage: .venv/bin/python benchmarks/calibrate_threshold.py [--data ../shared/data/digit-recognizer.zip]
"""

from __future__ import annotations

import argparse
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "apps"))

from digitkit.models import available_models, load_model, predict_proba  # noqa: E402

SEED = 42  # the notebook's SEED and VALIDATION_SIZE
VALIDATION_SIZE = 0.1
TARGET_ACCURACY = 0.90
WINDOW = 100
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "digit-recognizer.zip"


def load_train_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """train.csv from the Kaggle zip, or the csv itself: pixels (N, 784) uint8 and labels (N,)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive, archive.open("train.csv") as handle:
            frame = pd.read_csv(handle, dtype=np.uint8)
    else:
        frame = pd.read_csv(path, dtype=np.uint8)
    labels = frame.pop("label").to_numpy()
    return frame.to_numpy(), labels


def validation_split(pixels: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's validation set: x in [0, 1] float32 and its labels."""
    _, x_val, _, y_val = train_test_split(
        pixels, labels, test_size=VALIDATION_SIZE, stratify=labels, random_state=SEED
    )
    return x_val.astype(np.float32) / 255.0, y_val


def local_accuracy(
    confidence: np.ndarray, correct: np.ndarray, window: int = WINDOW
) -> tuple[np.ndarray, ...]:
    """Sorted by confidence: each window's median confidence and its share of correct answers."""
    order = np.argsort(confidence)
    conf, right = confidence[order], correct[order].astype(np.float64)
    sums = np.convolve(right, np.ones(window), mode="valid")
    centres = np.array([np.median(conf[i : i + window]) for i in range(len(sums))])
    return centres, sums / window


def threshold_for(confidence: np.ndarray, correct: np.ndarray) -> float:
    """The lowest confidence above which every window's accuracy is at least TARGET_ACCURACY."""
    centres, accuracy = local_accuracy(confidence, correct)
    failing = np.flatnonzero(accuracy < TARGET_ACCURACY)
    raw = float(centres[failing[-1]]) if failing.size else 0.0
    return min(1.0, math.ceil(raw * 20 - 1e-9) / 20)


def report(name: str, confidence: np.ndarray, correct: np.ndarray, threshold: float) -> None:
    """Accuracy in confidence bands, and what a given threshold keeps and turns into "Not sure"."""
    print(f"\n{name}: validation accuracy {correct.mean():.2%} on {len(correct)} digits")
    print("  confidence band    digits  accuracy")
    edges = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01]
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        band = (confidence >= low) & (confidence < high)
        if band.any():
            print(f"  [{low:.2f}, {min(high, 1.0):.2f})  {band.sum():8d}  {correct[band].mean():8.1%}")
    for t in sorted({0.5, 0.7, 0.8, 0.9, threshold}):
        sure = confidence >= t
        unsure_acc = f"{correct[~sure].mean():.1%}" if (~sure).any() else "-"
        print(
            f"  threshold {t:.2f}: answers {sure.mean():6.2%} of digits, right {correct[sure].mean():.2%};"
            f" 'Not sure' for {(~sure).sum()} digits, whose best guess is right {unsure_acc}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Kaggle zip or train.csv")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data}: not found (the Kaggle digit-recognizer zip or its train.csv)")
    models = available_models(args.models)
    if not models:
        sys.exit(f"{args.models}: no saved model")

    x_val, y_val = validation_split(*load_train_csv(args.data))
    thresholds = {}
    for name, path in models.items():
        probabilities = predict_proba(load_model(path), x_val)
        confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == y_val
        thresholds[name] = threshold_for(confidence, correct)
        report(name, confidence, correct, thresholds[name])
        print(
            f"  -> {name}: local accuracy (windows of {WINDOW}) is >= {TARGET_ACCURACY:.0%} above {thresholds[name]:.2f}"
        )
    print(f"\nUNSURE_THRESHOLD = {max(thresholds.values()):.2f}  (largest of {thresholds})")


if __name__ == "__main__":
    main()
