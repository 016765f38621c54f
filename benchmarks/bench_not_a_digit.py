"""How well the "not a digit" check works: what it refuses, what it lets through, and what it costs.

For each model with saved statistics (models/novelty.npz, from scripts/fit_novelty.py):
- real digits refused: the notebook's validation split (the threshold was set on it: at most 1%) and, as
  digits nobody calibrated on, Kaggle's unlabelled test.csv;
- drawn digits refused and read right: validation digits redrawn as canvas strokes (thin, MNIST-wide, thick);
- drawings that are not digits refused (synthetic.py: letters, symbols, shapes, doodles as mouse strokes),
  with the ambiguous ones (O, l, S, Z, B, ...) counted apart;
- milliseconds for one drawing: preprocessing and the model with the check, against the model alone (median).
`--compare` also measures other scores at the same 1% of validation digits refused: the top probability,
the energy score and the distance on the last layer alone (single networks only).

Usage: .venv/bin/python benchmarks/bench_not_a_digit.py [--data dataset]
       [--models models] [--model cnn] [--drawings 10] [--compare]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from digitkit.models import available_models, load_model, predict_proba
from digitkit.novelty import DigitClusters, features_and_probabilities, fit_layer, load_digit_check
from digitkit.preprocess import to_model_input
from notebook_helpers import add_data_and_models_arguments, labelled_split
from testdata.synthetic import AMBIGUOUS, NON_DIGITS, non_digit_drawing, stroke_variant

WIDTHS = {"thin": 0.04, "MNIST-wide": 0.17, "thick": 0.3}  # stroke width over the digit's height
BOARD = 280  # the web app's canvas, in px
DRAWN_DIGITS = 600  # validation digits redrawn for each stroke width
TIMING_RUNS = 200


def kaggle_test_digits(nb, folder: Path) -> np.ndarray | None:
    """Kaggle's unlabelled test digits (N, 784) float32 in [0, 1], when the folder holds test.csv."""
    path = folder / "test.csv"
    if not path.is_file():
        return None
    _, pixels = nb.load_digits_csv(path, "test")
    return nb.normalize(pixels)


def drawings(seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs of every non-digit drawn `seeds` times, and each one's name."""
    names = [name for name in NON_DIGITS for _ in range(seeds)]
    inputs = [to_model_input(non_digit_drawing(name, seed=1000 + k % seeds)) for k, name in enumerate(names)]
    return np.stack(inputs), np.array(names)


def drawn_digits(x_val: np.ndarray, y_val: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each stroke width: model inputs of validation digits redrawn on a canvas, and their labels."""
    chosen = np.linspace(0, len(x_val) - 1, DRAWN_DIGITS).astype(int)
    images = np.round(x_val[chosen] * 255).astype(np.uint8).reshape(-1, 28, 28)
    return {
        name: (
            np.stack(
                [
                    to_model_input(stroke_variant(image, BOARD, share, seed=k))
                    for k, image in enumerate(images)
                ]
            ),
            y_val[chosen],
        )
        for name, share in WIDTHS.items()
    }


def median_ms(action, runs: int = TIMING_RUNS) -> float:
    """The median wall time of an action, in milliseconds (after 5 warm-up runs)."""
    for _ in range(5):
        action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def compare_scores(model, x_train, y_train, x_val, inputs, names) -> None:
    """Other scores at 1% of validation digits refused, on the same drawings (single networks only)."""
    import keras
    from scipy.special import logsumexp

    last = model.layers[-1]
    view = keras.Model(model.inputs, [last.input, model.outputs[0]])
    (train,), _ = features_and_probabilities(view, x_train)
    (val,), val_probabilities = features_and_probabilities(view, x_val)
    (drawn,), drawn_probabilities = features_and_probabilities(view, inputs)
    weights, bias = last.get_weights()
    one_layer = DigitClusters((fit_layer(train, y_train),), np.inf, "")
    scores = {
        "top probability": (-val_probabilities.max(axis=1), -drawn_probabilities.max(axis=1)),
        "energy (logsumexp of the logits)": (
            -logsumexp(val @ weights + bias, axis=1),
            -logsumexp(drawn @ weights + bias, axis=1),
        ),
        "Mahalanobis, last layer alone": (one_layer.distances([val]), one_layer.distances([drawn])),
    }
    ambiguous = np.isin(names, list(AMBIGUOUS))
    for label, (val_score, drawn_score) in scores.items():
        threshold = np.quantile(val_score, 0.99, method="higher")
        refused = drawn_score > threshold
        print(
            f"    {label}: non-digits refused {refused[~ambiguous].sum()} of {(~ambiguous).sum()}"
            f" ({refused[~ambiguous].mean():.1%}), ambiguous {refused[ambiguous].mean():.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_and_models_arguments(parser)
    parser.add_argument("--drawings", type=int, default=10, help="drawings of each non-digit")
    parser.add_argument("--compare", action="store_true", help="also measure other scores (slower)")
    parser.add_argument("--model", action="append", help="only this model (cnn, ensemble, mlp); repeatable")
    args = parser.parse_args()
    nb, x_train, x_val, y_train, y_val = labelled_split(args.data)
    test_digits = kaggle_test_digits(nb, args.data)
    inputs, names = drawings(args.drawings)
    ambiguous = np.isin(names, list(AMBIGUOUS))
    drawn = drawn_digits(x_val, y_val)
    canvas = non_digit_drawing("A", seed=0)
    for name, path in available_models(args.models).items():
        if args.model and name not in args.model:
            continue
        model = load_model(path)
        check = load_digit_check(model, path)
        print(f"\n{name}:")
        probabilities, is_digit = check(x_val)
        right = probabilities.argmax(axis=1) == y_val
        print(
            f"  validation digits refused: {(~is_digit).sum()} of {len(y_val)} ({(~is_digit).mean():.2%});"
            f" accuracy on the others {right[is_digit].mean():.3%} (all: {right.mean():.3%})"
        )
        if test_digits is not None:
            _, test_is_digit = check(test_digits)
            print(
                f"  Kaggle test digits refused: {(~test_is_digit).sum()} of {len(test_digits)}"
                f" ({(~test_is_digit).mean():.2%})"
            )
        for width, (batch, labels) in drawn.items():
            drawn_probabilities, drawn_is_digit = check(batch)
            print(
                f"  drawn digits, {width} strokes: refused {(~drawn_is_digit).mean():.1%},"
                f" read right {(drawn_probabilities.argmax(axis=1) == labels).mean():.1%} (of {len(labels)})"
            )
        _, refused = check(inputs)
        refused = ~refused
        print(
            f"  non-digit drawings refused: {refused[~ambiguous].sum()} of {(~ambiguous).sum()}"
            f" ({refused[~ambiguous].mean():.1%}); ambiguous ones (a person could read a digit):"
            f" {refused[ambiguous].sum()} of {ambiguous.sum()} ({refused[ambiguous].mean():.1%})"
        )
        passed = sorted({n for n in names[~ambiguous] if refused[names == n].mean() < 0.5})
        print(f"  non-digits mostly taken for digits: {' '.join(passed) or 'none'}")
        with_check = median_ms(lambda check=check: check(to_model_input(canvas)[np.newaxis]))
        alone = median_ms(lambda model=model: predict_proba(model, to_model_input(canvas)[np.newaxis]))
        print(
            f"  one drawing: {with_check:.1f} ms with the check, {alone:.1f} ms without (medians of {TIMING_RUNS})"
        )
        if args.compare and not any(hasattr(layer, "layers") for layer in model.layers):
            print("  other scores at 1% of validation digits refused:")
            compare_scores(model, x_train, y_train, x_val, inputs, names)


if __name__ == "__main__":
    main()
