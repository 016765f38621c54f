"""Fit the "not a digit" statistics of each saved model and save them as models/novelty.npz.

For each model in the model folder: its features on the notebook's training split (the digits as they are
and with their strokes thinned or thickened, as the CNNs' training augmentation does) give each digit's
mean and one shared covariance; drawings of the writing styles MNIST has few of (testdata.writers, drawn
from seeds no benchmark reads) add one prototype each; the distance threshold is set so that at most 1% of
the tuning half of the notebook's validation digits are refused (apps/digitkit/novelty.py), so the other
half measures it honestly (benchmarks/bench_writers.py). A few minutes on 2 CPU cores. Rerun after
retraining a model: the file records each model file's SHA-256, and the apps refuse statistics fitted for
another version.

Usage: .venv/bin/python scripts/fit_novelty.py [--data dataset] [--models models] [--no-styles]
(--data: the folder with train.csv or Kaggle's digit-recognizer.zip, as the notebook's DATA_DIR.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from digitkit.models import available_models, load_model
from digitkit.novelty import (
    NOVELTY_FILE,
    REFUSED_SHARE,
    DigitClusters,
    feature_view,
    features_and_probabilities,
    file_sha256,
    fit_layer,
    saved_arrays,
    with_prototypes,
)
from digitkit.preprocess import to_model_input
from notebook_helpers import add_data_and_models_arguments, labelled_split
from testdata.writers import FITTING_SEEDS, PEN_WIDTHS, STYLES, style_drawing, validation_half

STYLE_DRAWINGS = 20  # drawings of each style at each pen width, for its prototype


def style_drawings() -> tuple[np.ndarray, np.ndarray]:
    """Model inputs of every style drawn STYLE_DRAWINGS times at each pen width, and each one's style."""
    inputs, styles = [], []
    for style in STYLES:
        for p, pen in enumerate(PEN_WIDTHS.values()):
            for k in range(STYLE_DRAWINGS):
                inputs.append(to_model_input(style_drawing(style, FITTING_SEEDS.start + 100 * p + k, pen)))
                styles.append(style)
    return np.stack(inputs), np.array(styles)


def save_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays as a compressed .npz next to `path`, then move it into place in one step."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez_compressed(file, **arrays)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the models beside it are readable
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_and_models_arguments(parser)
    parser.add_argument("--no-styles", action="store_true", help="no prototypes of writing styles")
    args = parser.parse_args()
    models = available_models(args.models)
    if not models:
        sys.exit(f"{args.models}: no saved model")
    nb, x_train, x_val, y_train, y_val = labelled_split(args.data)
    # The digits as the CNNs learned them: as they are, and again with their strokes thinned or thickened
    # at random by the training's own augmentation (else a marker-thick digit looks like no digit at all).
    nb.tf.random.set_seed(nb.SEED)
    varied = np.asarray(nb.vary_stroke_width(x_train.reshape(-1, 28, 28, 1), rate=0.75)).reshape(
        len(x_train), -1
    )
    x_train, y_train = np.concatenate([x_train, varied]), np.concatenate([y_train, y_train])
    x_tuning, y_tuning = validation_half(x_val, y_val, "tuning")
    drawn, styles = (None, None) if args.no_styles else style_drawings()
    arrays: dict[str, np.ndarray] = {}
    for name, path in models.items():
        view = feature_view(load_model(path))
        train_features, _ = features_and_probabilities(view, x_train)
        clusters = DigitClusters(
            tuple(fit_layer(features, y_train) for features in train_features), np.inf, ""
        )
        if drawn is not None:
            clusters = with_prototypes(clusters, features_and_probabilities(view, drawn)[0], styles)
        val_features, probabilities = features_and_probabilities(view, x_tuning)
        distances = clusters.distances(val_features)
        threshold = float(np.quantile(distances, 1 - REFUSED_SHARE, method="higher"))
        refused = distances > threshold
        right = probabilities.argmax(axis=1) == y_tuning
        sizes = "+".join(str(features.shape[1]) for features in train_features)
        print(
            f"{name}: {len(clusters.layers)} feature layers ({sizes}), {len(clusters.layers[0].means)} means;"
            f" threshold {threshold:.3f} refuses {refused.sum()} of {len(y_tuning)} validation digits (tuning"
            f" half, {refused.mean():.2%}); of those, {right[refused].sum()} were read right; accuracy on the"
            f" rest {right[~refused].mean():.3%}"
        )
        arrays |= saved_arrays(name, DigitClusters(clusters.layers, threshold, file_sha256(path)))
    target = args.models / NOVELTY_FILE
    save_atomically(target, arrays)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
