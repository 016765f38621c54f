"""Accuracy experiment: train one variant of the notebook's CNN, or average variants already trained.

    python benchmarks/cnn_variants.py train NAME [--seed 46] [--epochs 45] [--width 1.5] [--pseudo-label]
    python benchmarks/cnn_variants.py combine NAME [NAME ...] [--with-committed]

`train` uses the notebook's own split, augmentation, schedule, early stopping and CNN blocks, changing only
what its options say: a longer schedule, wider layers (filters x width), or more training digits (the
Kaggle test digits that the committed ensemble labels with at least 99% confidence: pseudo-labelling; the
validation digits are never used). It prints the notebook's per-epoch training log and saves the
final validation probabilities in benchmarks/results/NAME.npy. `combine` averages saved probabilities (and,
with --with-committed, the committed CNN and ensemble members) and counts the mistakes. One run per
variant is noisy: the same recipe from different seeds lands between 17 and 21 wrong of 4,200.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from notebook_helpers import load_notebook_helpers

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


nb = load_notebook_helpers(("parameters",))  # the defaults; main() loads the functions (and TensorFlow)


def committed_members() -> list[Path]:
    """The committed ensemble's member files."""
    return sorted((ROOT / "models" / "ensemble").glob("*.keras"))


def committed_ensemble():
    """The committed members averaged, as one model."""
    return nb.build_ensemble([nb.keras.models.load_model(path) for path in committed_members()])


def pseudo_labelled(data_dir: Path, min_confidence: float = 0.99):
    """Kaggle test digits with the committed ensemble's labels, where it is at least this confident."""
    _, pixels = nb.load_digits_csv(data_dir / "test.csv", "test")
    x_test = nb.normalize(pixels)
    probabilities = committed_ensemble().predict(x_test, batch_size=1024, verbose=0)
    keep = probabilities.max(axis=1) >= min_confidence
    print(f"pseudo-labelled {keep.sum():,} of {len(x_test):,} test digits", flush=True)
    return x_test[keep], nb.keras.utils.to_categorical(probabilities[keep].argmax(axis=1), 10).astype(
        np.float32
    )


def train(args) -> None:
    x_train, x_val, y_train, y_val = nb.training_split(args.data_dir, nb.VALIDATION_SIZE, nb.SEED)
    if args.pseudo_label:
        x_extra, y_extra = pseudo_labelled(args.data_dir)
        x_train, y_train = np.concatenate([x_train, x_extra]), np.concatenate([y_train, y_extra])
    true = y_val.argmax(axis=1)
    settings = {
        "epochs": args.epochs,
        "batch_size": nb.CNN_BATCH_SIZE,
        "learning_rate": nb.CNN_LEARNING_RATE,
        "patience": nb.EARLY_STOPPING_PATIENCE,
    }
    model, history, seconds = nb.train_cnn(
        args.seed, x_train, y_train, x_val, y_val, settings, width=args.width
    )
    probabilities = model.predict(x_val, batch_size=1024, verbose=0)
    RESULTS.mkdir(exist_ok=True)
    nb.write_atomically(RESULTS / f"{args.name}.npy", lambda tmp: np.save(tmp, probabilities))
    wrong = (probabilities.argmax(axis=1) != true).sum()
    print(
        f"{args.name}: {wrong} wrong of {len(true):,} ({1 - wrong / len(true):.3%}), "
        f"{len(history.history['loss'])} epochs, {seconds:.0f} s"
    )


def combine(args) -> None:
    if not (args.names or args.with_committed):
        sys.exit("nothing to average: name some variants, or add --with-committed")
    for name in args.names:
        if not (RESULTS / f"{name}.npy").is_file():
            sys.exit(f"nothing to average: no {RESULTS / name}.npy (train it first)")
    _, x_val, _, y_val = nb.training_split(args.data_dir, nb.VALIDATION_SIZE, nb.SEED)
    true = y_val.argmax(axis=1)
    probabilities = [np.load(RESULTS / f"{name}.npy") for name in args.names]
    if args.with_committed:
        for path in [ROOT / "models" / "cnn.keras", *committed_members()]:
            probabilities.append(nb.keras.models.load_model(path).predict(x_val, batch_size=1024, verbose=0))
    average = np.mean(probabilities, axis=0)
    wrong = (average.argmax(axis=1) != true).sum()
    print(
        f"average of {len(probabilities)} models: {wrong} wrong of {len(true):,} ({1 - wrong / len(true):.3%})"
    )


def main() -> None:
    global nb
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / nb.DATA_DIR)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("train", help="train one CNN variant")
    one.add_argument("name")
    one.add_argument("--seed", type=int, default=nb.SEED + 4)
    one.add_argument("--epochs", type=int, default=nb.CNN_EPOCHS)
    one.add_argument("--width", type=float, default=1.0)
    one.add_argument("--pseudo-label", action="store_true")
    several = commands.add_parser("combine", help="average saved variants")
    several.add_argument("names", nargs="*")
    several.add_argument("--with-committed", action="store_true")
    args = parser.parse_args()
    nb = load_notebook_helpers()
    train(args) if args.command == "train" else combine(args)


if __name__ == "__main__":
    main()
