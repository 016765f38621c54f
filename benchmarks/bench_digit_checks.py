"""Which "not a digit" check to keep: the Mahalanobis distance to MNIST's clusters, the same with prototypes
of writing styles (what the apps use), or a check trained on negatives (outlier exposure).

All four are fitted here from the same data, on seeds no benchmark reads (testdata.writers.FITTING_SEEDS):
- Mahalanobis: each digit's mean and a shared covariance of a model's features on training digits
  (apps/digitkit/novelty.py); refused beyond a threshold;
- + style prototypes: one more mean per writing style MNIST has few of (the apps' check);
- outlier exposure, scores: a logistic regression on the per-layer distances and the top probability,
  trained on digits (training digits, digits redrawn with thin to thick pens, style drawings) against
  negatives (drawn letters, symbols and doodles, scribbles, fragments of digits);
- outlier exposure, features: the same regression on the model's features themselves.
Each threshold refuses 1% of the tuning half of the validation digits. They are then measured on `--set`
(tuning: to choose; reporting: to report): validation digits refused (that half), Kaggle's test digits
refused (real digits nobody tuned on), style drawings accepted and read right, and non-digit drawings
refused, for the kinds of non-digit the outlier-exposure checks were trained on and for the kinds they
never saw (every other kind): a check that only learned its negatives refuses the unseen kinds less.

Usage: .venv/bin/python benchmarks/bench_digit_checks.py [--data dataset] [--model distilled] [--set tuning]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from digitkit.models import available_models, load_model
from digitkit.novelty import (
    DigitClusters,
    feature_view,
    features_and_probabilities,
    fit_layer,
    with_prototypes,
)
from digitkit.preprocess import to_model_input
from notebook_helpers import add_data_and_models_arguments, labelled_split
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from testdata.synthetic import AMBIGUOUS, NON_DIGITS, SCRIBBLE, non_digit_drawing, stroke_variant
from testdata.writers import (
    FITTING_SEEDS,
    PEN_WIDTHS,
    SET_NAMES,
    STYLES,
    first_seed,
    style_drawing,
    validation_half,
)

REFUSED_SHARE = 0.01
CLEAR_KINDS = [name for name in NON_DIGITS if name not in AMBIGUOUS and name != SCRIBBLE]
SEEN_KINDS, UNSEEN_KINDS = CLEAR_KINDS[0::2], CLEAR_KINDS[1::2]  # the negatives OE is trained on, and not


def styles(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of every style drawn `count` times at each pen width, and the digit each one is."""
    inputs, digits = [], []
    for style, (digit, _) in STYLES.items():
        for p, pen in enumerate(PEN_WIDTHS.values()):
            inputs += [to_model_input(style_drawing(style, seed + 100 * p + k, pen)) for k in range(count)]
            digits += [digit] * count
    return np.stack(inputs), np.array(digits)


def non_digits(kinds: list[str], seed: int, count: int) -> np.ndarray:
    """Inputs of each kind of non-digit drawn `count` times."""
    return np.stack(
        [to_model_input(non_digit_drawing(kind, seed=seed + k)) for kind in kinds for k in range(count)]
    )


def fragments(images: np.ndarray, seed: int, count: int) -> np.ndarray:
    """Inputs of pieces of real digits: each cut along a random line, one side kept (a segmenter's piece)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:28, 0:28]
    pieces = []
    while len(pieces) < count:
        digit = images[rng.integers(len(images))].reshape(28, 28)
        angle = rng.uniform(0, 2 * np.pi)
        keep = np.cos(angle) * (cols - 14) + np.sin(angle) * (rows - 14) > rng.uniform(-2, 4)
        piece = digit * keep
        if piece.max() > 0.3 and (piece > 0.3).sum() >= 15:
            pieces.append(to_model_input(np.round(piece * 255).astype(np.uint8)))
    return np.stack(pieces)


def redrawn(images: np.ndarray, seed: int, count: int) -> np.ndarray:
    """Inputs of real digits redrawn on the canvas with thin, MNIST-wide or marker-thick strokes."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), count, replace=False)
    widths = rng.choice([0.04, 0.17, 0.3], count)
    return np.stack(
        [
            to_model_input(
                stroke_variant(np.round(images[i] * 255).astype(np.uint8).reshape(28, 28), 280, w, k)
            )
            for k, (i, w) in enumerate(zip(chosen, widths, strict=True))
        ]
    )


def scores(clusters: DigitClusters, features: list[np.ndarray], probabilities: np.ndarray) -> np.ndarray:
    """Per input: the log of each layer's scaled distance, of their combination, and of the top probability."""
    layers = [c.distances(f) / c.scale for c, f in zip(clusters.layers, features, strict=True)]
    combined = np.sqrt(np.mean(np.square(layers), axis=0))
    return np.log(np.column_stack([*layers, combined, probabilities.max(axis=1)]) + 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_and_models_arguments(parser)
    parser.add_argument("--model", default="distilled", help="the model whose features are checked")
    parser.add_argument("--set", choices=SET_NAMES, default="tuning")
    parser.add_argument("--count", type=int, default=10, help="drawings of each style, pen and kind")
    args = parser.parse_args()
    models = available_models(args.models)
    if args.model not in models:
        sys.exit(f"{args.models}: no model {args.model!r}")
    nb, x_train, x_val, y_train, y_val = labelled_split(args.data)
    view = feature_view(load_model(models[args.model]))

    def run(batch):
        return features_and_probabilities(view, np.asarray(batch, np.float32).reshape(len(batch), -1))

    fit = FITTING_SEEDS.start
    train_features, _ = run(x_train)
    clusters = DigitClusters(tuple(fit_layer(f, y_train) for f in train_features), np.inf, "")
    style_inputs, _ = styles(fit, 20)
    style_groups = np.repeat(list(STYLES), 20 * len(PEN_WIDTHS))
    with_styles = with_prototypes(clusters, run(style_inputs)[0], style_groups)
    sample = np.random.default_rng(fit).choice(len(x_train), 4000, replace=False)
    positives = [x_train[sample], redrawn(x_train, fit, 600), style_inputs]
    negatives = [
        non_digits(SEEN_KINDS, fit, 16),
        non_digits([SCRIBBLE], fit, 100),
        fragments(x_train, fit, 800),
    ]
    fitting = [run(batch) for batch in positives + negatives]
    labels = np.concatenate(
        [np.full(len(b), k < len(positives)) for k, b in enumerate(positives + negatives)]
    )

    def oe_scores(data):
        return scores(clusters, *data)

    def oe_features(data):
        return np.column_stack([*data[0], scores(clusters, *data)])

    checks = {
        "Mahalanobis, MNIST's clusters": lambda data: -clusters.distances(data[0]),
        "Mahalanobis + style prototypes (the apps')": lambda data: -with_styles.distances(data[0]),
    }
    for name, features in [
        ("outlier exposure, scores", oe_scores),
        ("outlier exposure, features", oe_features),
    ]:
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)
        )
        model.fit(np.concatenate([features(data) for data in fitting]), labels)
        checks[name] = lambda data, m=model, f=features: m.decision_function(f(data))

    seed = first_seed(args.set)
    tuning_val = run(validation_half(x_val, y_val, "tuning")[0])
    half, half_labels = validation_half(x_val, y_val, args.set)
    sets = {"validation": run(half), "styles": run(styles(seed, args.count)[0])}
    style_digits = styles(seed, 1)[1].repeat(args.count)
    sets["seen kinds"] = run(non_digits(SEEN_KINDS, seed, args.count))
    sets["unseen kinds"] = run(non_digits(UNSEEN_KINDS, seed, args.count))
    _, test_path = nb.find_local_data(args.data)
    if test_path is not None:
        _, pixels = nb.load_digits_csv(test_path, "test")
        sets["Kaggle test"] = run(nb.normalize(pixels))
    print(
        f"{args.model} model, {args.set} set: {len(half_labels)} validation digits, {len(style_digits)} style drawings"
    )
    print(f"non-digit kinds seen by outlier exposure: {len(SEEN_KINDS)}, never seen: {len(UNSEEN_KINDS)}\n")
    columns = ["validation refused", "Kaggle test refused", "styles accepted", "styles right",
               "seen kinds refused", "unseen kinds refused"]  # fmt: skip
    print("| check | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, check in checks.items():
        threshold = np.quantile(check(tuning_val), REFUSED_SHARE)
        accepted = {key: check(data) >= threshold for key, data in sets.items()}
        right = accepted["styles"] & (sets["styles"][1].argmax(axis=1) == style_digits)
        cells = [
            f"{1 - accepted['validation'].mean():.2%}",
            f"{1 - accepted['Kaggle test'].mean():.2%}" if "Kaggle test" in accepted else "-",
            f"{accepted['styles'].mean():.1%}",
            f"{right.mean():.1%}",
            f"{1 - accepted['seen kinds'].mean():.1%}",
            f"{1 - accepted['unseen kinds'].mean():.1%}",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
