"""Thin, MNIST-wide and thick strokes: how well the models read them, and what helps.

Validation digits (the notebook's split: no model trained on them) are redrawn along their centre lines
(scripts/testdata/synthetic.py) with strokes from ballpoint-thin to marker-thick, on a canvas (280 px) and as
a small photo crop (64 px), then read through the apps' preprocessing:
- as the apps do today;
- with the strokes brought to MNIST's width first (strokes.normalize_stroke_width: marker strokes eroded);
- `--finetune N`: with copies of the CNN fine-tuned N epochs on the training split, with and without
  thickness augmentation (each training digit randomly eroded, kept, or dilated by 2 or 3 px), same
  schedule otherwise, to see what augmentation would bring. (Slow: minutes per epoch on 2 cores.)

Usage: .venv/bin/python benchmarks/bench_stroke_width.py [--data dataset]
       [--digits 1000] [--finetune 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from digitkit.models import available_models, load_model, predict_proba
from digitkit.preprocess import to_model_input
from notebook_helpers import add_data_and_models_arguments, labelled_split
from testdata.strokes import normalize_stroke_width
from testdata.synthetic import stroke_variant

WIDTHS = {"thin 0.04": 0.04, "MNIST 0.17": 0.17, "thick 0.25": 0.25, "thick 0.30": 0.30}
SIZES = {"canvas": 280, "photo crop": 64}


def tight(board: np.ndarray) -> np.ndarray:
    """The board (ink bright) cropped to its ink, as float32 0..1."""
    ink = board.astype(np.float32) / 255.0
    rows, cols = np.flatnonzero((ink > 0.2).any(axis=1)), np.flatnonzero((ink > 0.2).any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def thickness_augmented(images, labels, batch_size: int, seed: int):
    """A tf.data pipeline of training digits, each randomly eroded, kept or dilated by 2 or 3 px."""
    import tensorflow as tf

    def thicken(image, label):
        field = tf.reshape(image, (1, 28, 28, 1))
        choice = tf.random.uniform((), 0, 4, dtype=tf.int32, seed=seed)
        field = tf.switch_case(
            choice,
            [
                lambda: -tf.nn.max_pool2d(-field, 2, 1, "SAME"),  # thinner
                lambda: field,
                lambda: tf.nn.max_pool2d(field, 2, 1, "SAME"),  # thicker
                lambda: tf.nn.max_pool2d(field, 3, 1, "SAME"),  # much thicker
            ],
        )
        return tf.reshape(field, (784,)), label

    data = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(len(images), seed=seed)
    return data.map(thicken, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(2)


def fine_tuned(path: Path, x_train, y_train, epochs: int, augment: bool):
    """A copy of the saved CNN trained `epochs` more epochs at a small learning rate."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(42)
    model = keras.models.load_model(path, compile=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    if augment:
        data = thickness_augmented(x_train, y_train, 128, seed=42)
    else:
        data = (
            tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=42).batch(128)
        )
    model.fit(data, epochs=epochs, verbose=2)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_and_models_arguments(parser)
    parser.add_argument(
        "--digits", type=int, default=1000, help="validation digits per stroke width and size"
    )
    parser.add_argument("--finetune", type=int, default=0, help="epochs of fine-tuning for the comparison")
    args = parser.parse_args()
    nb, x_train, x_val, y_train, y_val = labelled_split(args.data)
    chosen = np.linspace(0, len(x_val) - 1, args.digits).astype(int)
    images = np.round(x_val[chosen] * 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = y_val[chosen]
    started = time.perf_counter()
    sets = {}  # (size, width) -> (as the apps read it, with the width normalized)
    for size_name, size in SIZES.items():
        for width_name, share in WIDTHS.items():
            boards = [stroke_variant(image, size, share, seed=k) for k, image in enumerate(images)]
            plain = np.stack([to_model_input(board) for board in boards])
            normalized = np.stack(
                [to_model_input(np.pad(normalize_stroke_width(tight(b)), 4)) for b in boards]
            )
            sets[size_name, width_name] = plain, normalized
    print(
        f"{len(sets) * len(chosen)} redrawn validation digits made in {time.perf_counter() - started:.0f} s"
    )
    models = {name: load_model(path) for name, path in available_models(args.models).items() if name != "mlp"}
    if args.finetune:
        path = available_models(args.models)["cnn"]
        for augment in (False, True):
            label = f"cnn +{args.finetune} epochs {'with' if augment else 'without'} thickness augmentation"
            started = time.perf_counter()
            models[label] = fine_tuned(path, x_train, y_train, args.finetune, augment)
            print(f"{label}: trained in {time.perf_counter() - started:.0f} s")
    for name, model in models.items():
        accuracy = (predict_proba(model, x_val).argmax(axis=1) == y_val).mean()
        print(f"\n{name}: validation accuracy {accuracy:.3%} (the 28x28 originals)")
        for (size_name, width_name), (plain, normalized) in sets.items():
            read = [
                (predict_proba(model, batch).argmax(axis=1) == labels).mean() for batch in (plain, normalized)
            ]
            print(
                f"  {size_name:10s} {width_name:10s}: read right {read[0]:6.1%} as is, {read[1]:6.1%} normalized"
            )


if __name__ == "__main__":
    main()
