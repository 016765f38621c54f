"""Fit the "not a digit" statistics of each saved model and save them as models/novelty.npz.

For each model in the model folder: its features on the notebook's training split (the digits as they are
and with their strokes thinned or thickened, as the CNNs' training augmentation does) give each digit's
mean and one shared covariance; drawings of the writing styles MNIST has few of (testdata.writers, drawn
from seeds no benchmark reads) add one prototype each, with its digit (an input near it is read as that
digit: novelty.read_by_points); the distance threshold is set so that at most 1% of the tuning half of the
notebook's validation digits are refused (apps/digitkit/novelty.py), so the other half measures it
honestly (benchmarks/bench_writers.py). A few minutes on 2 CPU cores. Rerun after
retraining a model: the file records each model file's SHA-256, and the apps refuse statistics fitted for
another version.

Usage: .venv/bin/python scripts/fit_novelty.py [--data dataset] [--models models] [--no-styles] [--only NAME ...]
(--data: the folder with train.csv or Kaggle's digit-recognizer.zip, as the notebook's DATA_DIR; --only
refits the named models, e.g. `--only ensemble`, and keeps the saved statistics of the others.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from digitkit.files import write_atomically
from digitkit.models import available_models, load_model
from digitkit.novelty import NOVELTY_FILE, DigitCheck, feature_view, file_sha256, fit_clusters, saved_arrays
from digitkit.preprocess import to_model_input
from notebook_helpers import add_data_and_models_arguments, labelled_split
from testdata.writers import FITTING_SEEDS, PEN_WIDTHS, STYLES, style_drawing, validation_half

STYLE_DRAWINGS = 20  # drawings of each style at each pen width, for its prototype


def style_drawings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs of every style drawn STYLE_DRAWINGS times at each pen width, each one's style and digit."""
    inputs, styles = [], []
    for style in STYLES:
        for p, pen in enumerate(PEN_WIDTHS.values()):
            for k in range(STYLE_DRAWINGS):
                inputs.append(to_model_input(style_drawing(style, FITTING_SEEDS.start + 100 * p + k, pen)))
                styles.append(style)
    return np.stack(inputs), np.array(styles), np.array([STYLES[style][0] for style in styles])


def kept_arrays(novelty_path: Path, refitted: set[str]) -> dict[str, np.ndarray]:
    """The saved statistics of every model not in `refitted` (none when there is no readable file)."""
    try:
        with np.load(novelty_path) as saved:
            return {key: saved[key] for key in saved.files if key.split("/")[0] not in refitted}
    except (OSError, ValueError) as error:
        print(f"{novelty_path}: not kept ({error})")
        return {}


def fit_and_save(data: Path, model_dir: Path, only: list[str] | None = None, styles: bool = True) -> Path:
    """Fit the statistics of every saved model (or of those named in `only`, keeping the others' saved
    statistics) and write them to model_dir/novelty.npz; returns its path."""
    models = available_models(model_dir)
    if only:
        unknown = sorted(set(only) - set(models))
        if unknown:
            sys.exit(
                f"{model_dir}: no saved model called {', '.join(unknown)} (there are {', '.join(models)})"
            )
        models = {name: path for name, path in models.items() if name in only}
    if not models:
        sys.exit(f"{model_dir}: no saved model")
    nb, x_train, x_val, y_train, y_val = labelled_split(data)
    # The digits as the CNNs learned them (the notebook fits its models' statistics on the same)
    x_train, y_train = nb.check_training_digits(x_train, y_train)
    x_tuning, y_tuning = validation_half(x_val, y_val, "tuning")
    prototypes = style_drawings() if styles else None
    arrays = kept_arrays(model_dir / NOVELTY_FILE, set(models)) if only else {}
    for name, path in models.items():
        view = feature_view(load_model(path))
        clusters = fit_clusters(view, x_train, y_train, x_tuning, file_sha256(path), prototypes)
        probabilities, _, is_digit = DigitCheck(view, clusters).scored(x_tuning)
        refused = ~is_digit
        right = probabilities.argmax(axis=1) == y_tuning
        sizes = "+".join(str(layer.means.shape[1]) for layer in clusters.layers)
        print(
            f"{name}: {len(clusters.layers)} feature layers ({sizes}), {len(clusters.layers[0].means)} means;"
            f" threshold {clusters.threshold:.3f} refuses {refused.sum()} of {len(y_tuning)} validation digits"
            f" (tuning half, {refused.mean():.2%}); of those, {right[refused].sum()} were read right; accuracy"
            f" on the rest {right[~refused].mean():.3%}"
        )
        arrays |= saved_arrays(name, clusters)
    target = write_atomically(
        model_dir / NOVELTY_FILE, lambda temporary: np.savez_compressed(temporary, **arrays)
    )
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_and_models_arguments(parser)
    parser.add_argument("--no-styles", action="store_true", help="no prototypes of writing styles")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="refit only these models (e.g. ensemble)")
    args = parser.parse_args()
    fit_and_save(args.data, args.models, args.only, styles=not args.no_styles)


if __name__ == "__main__":
    main()
