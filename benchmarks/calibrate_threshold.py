"""Pick the web app's "Not sure" threshold from the validation data, and show the numbers behind it.

The notebook holds out 10% of Kaggle's train.csv (stratified, seed 42) as its validation set; the models
never train on it. This script rebuilds exactly that split, runs each saved model on it, and measures how
often the answers given with a certain top probability ("confidence") are right, in bands 0.05 wide.

Rule: an answer stated as fact should be right at least 9 times in 10 (TARGET_ACCURACY). The threshold
is the upper edge of the highest confidence band whose answers are right less often than that, so every
band above the threshold meets the target; below it the app says "Not sure" and lists the candidates.
The app uses the largest threshold over the models, so it holds whichever model is picked.

Caveat: validation digits are MNIST scans; drawings on the canvas are not quite MNIST, so a model may be
confidently wrong on drawings more often than these numbers say.

Usage: .venv/bin/python benchmarks/calibrate_threshold.py [--data ../shared/data/digit-recognizer.zip]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from digitkit.models import available_models, load_model, predict_proba
from notebook_helpers import load_notebook_helpers

ROOT = Path(__file__).resolve().parent.parent


TARGET_ACCURACY = 0.90
BAND = 0.05
MIN_BAND = 0.5  # answers under 50% are never stated as fact
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "digit-recognizer.zip"


def validation_set(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's validation set, made by the notebook's own loader, split and parameters: x, labels."""
    nb = load_notebook_helpers()
    with tempfile.TemporaryDirectory() as tmp:
        if data.suffix == ".zip":  # (its folder may be read-only: the CSV is extracted elsewhere)
            with zipfile.ZipFile(data) as archive:
                data = Path(archive.extract("train.csv", tmp)).parent
        _, x_val, _, y_val = nb.training_split(data, nb.VALIDATION_SIZE, nb.SEED)
    return x_val, y_val.argmax(axis=1)


def bands(confidence: np.ndarray, correct: np.ndarray) -> list[tuple[float, float, int, float]]:
    """(low, high, digits, accuracy) for each non-empty confidence band of width BAND, from MIN_BAND up."""
    rows = []
    edges = np.round(np.arange(MIN_BAND, 1.0 + BAND / 2, BAND), 2)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence >= low) & ((confidence < high) if high < 1.0 else (confidence <= 1.0))
        if inside.any():
            rows.append((float(low), float(high), int(inside.sum()), float(correct[inside].mean())))
    return rows


def threshold_for(confidence: np.ndarray, correct: np.ndarray) -> float:
    """The upper edge of the highest band under TARGET_ACCURACY (MIN_BAND when none is)."""
    failing = [high for _, high, _, accuracy in bands(confidence, correct) if accuracy < TARGET_ACCURACY]
    return max(failing, default=MIN_BAND)


def report(name: str, confidence: np.ndarray, correct: np.ndarray, threshold: float) -> None:
    """Accuracy per confidence band, and what the threshold keeps and turns into "Not sure"."""
    print(f"\n{name}: validation accuracy {correct.mean():.2%} on {len(correct)} digits")
    below = confidence < MIN_BAND
    if below.any():
        print(f"  [0.00, {MIN_BAND:.2f})  {below.sum():6d} digits, right {correct[below].mean():6.1%}")
    for low, high, count, accuracy in bands(confidence, correct):
        flag = "  <- under target" if accuracy < TARGET_ACCURACY else ""
        print(f"  [{low:.2f}, {high:.2f})  {count:6d} digits, right {accuracy:6.1%}{flag}")
    sure = confidence >= threshold
    unsure = f"{correct[~sure].mean():.1%}" if (~sure).any() else "-"
    print(
        f"  threshold {threshold:.2f}: answers {sure.mean():.2%} of the digits and is right on"
        f" {correct[sure].mean():.2%} of them; 'Not sure' for {(~sure).sum()}, whose best guess is right {unsure}"
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

    x_val, y_val = validation_set(args.data)
    results = {}  # name -> (confidence, correct)
    for name, path in models.items():
        probabilities = predict_proba(load_model(path), x_val)
        results[name] = probabilities.max(axis=1), probabilities.argmax(axis=1) == y_val
    thresholds = {name: threshold_for(*result) for name, result in results.items()}
    for name, result in results.items():
        report(name, *result, thresholds[name])
    threshold = max(thresholds.values())
    print(
        f"\nUNSURE_THRESHOLD = {threshold:.2f}  (the largest of {thresholds}); what it means for each model:"
    )
    for name, (confidence, correct) in results.items():
        sure = confidence >= threshold
        print(
            f"  {name}: answers {sure.mean():.2%} of the validation digits, right on {correct[sure].mean():.2%};"
            f" 'Not sure' on {(~sure).sum()}, whose best guess is right {correct[~sure].mean():.1%}"
        )


if __name__ == "__main__":
    main()
