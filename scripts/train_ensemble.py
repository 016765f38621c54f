"""Train the ensemble's extra CNNs ahead of time, so the notebook loads them instead of training them.

    python scripts/train_ensemble.py [--data-dir dataset] [--model-dir models]

Uses the notebook's own functions and default parameters (seed, validation split, epochs), so each member
is trained on exactly the split the notebook validates on; the notebook checks that by a fingerprint of
the validation set. Members already trained for this split are kept.
"""

import argparse
import time
from pathlib import Path

from notebook_helpers import ROOT, load_notebook_helpers


def main() -> None:
    nb = load_notebook_helpers()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / nb.DATA_DIR)
    parser.add_argument("--model-dir", type=Path, default=ROOT / nb.MODEL_DIR)
    parser.add_argument(
        "--members", type=int, default=nb.ENSEMBLE_SIZE, help="ensemble size, the notebook's CNN included"
    )
    args = parser.parse_args()

    train_csv, _, source = nb.get_data(args.data_dir, nb.KAGGLE_COMPETITION, nb.KAGGLE_DATASET, nb.SEED)
    labels, pixels = nb.load_digits_csv(train_csv, "train")
    nb.check_splittable(labels, nb.VALIDATION_SIZE, train_csv)
    x_train, x_val, y_train, y_val = nb.split_for_training(pixels, labels, nb.VALIDATION_SIZE, nb.SEED)
    recipe = nb.cnn_recipe(x_val, y_val, nb.CNN_EPOCHS, nb.CNN_BATCH_SIZE, nb.CNN_LEARNING_RATE)
    print(f"Data: {source}; validation split {recipe['split']}")

    def train(seed: int):
        return nb.train_cnn(
            seed, x_train, y_train, x_val, y_val, nb.CNN_EPOCHS, nb.CNN_BATCH_SIZE, nb.CNN_LEARNING_RATE,
            nb.EARLY_STOPPING_PATIENCE,
        )  # fmt: skip

    for seed in range(nb.SEED + 1, nb.SEED + args.members):
        start = time.perf_counter()
        model, info = nb.load_or_train_member(seed, args.model_dir / "ensemble_members", recipe, train)
        accuracy = nb.evaluate_model(model, x_val, y_val)[1]
        print(
            f"member seed {seed}: validation accuracy {accuracy:.4f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
