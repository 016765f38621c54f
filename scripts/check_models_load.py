"""Check that every committed model loads with the Keras of this environment (CI runs it with Colab's).

    python scripts/check_models_load.py [models]

Models saved by a newer Keras may carry settings an older one does not know, and then fail to load there
(Keras 3.15's files on Colab's 3.13). Each file must load and map (N, 784) pixels to (N, 10) probabilities.
Needs only Keras and NumPy (not the apps' package), so it runs in the bare Colab environment.
"""

import sys
from pathlib import Path

import numpy as np


def main() -> int:
    import keras

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "models")
    paths = sorted(folder.glob("*.keras")) + sorted(folder.glob("*/*.keras"))
    if not paths:
        print(f"{folder}: no .keras models found")
        return 1
    batch = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    failed = 0
    for path in paths:
        try:
            probabilities = np.asarray(keras.models.load_model(path, compile=False)(batch, training=False))
            if probabilities.shape != (3, 10) or not np.allclose(probabilities.sum(axis=1), 1, atol=1e-3):
                raise ValueError(f"output of shape {probabilities.shape} is not (N, 10) probabilities")
        except Exception as error:  # noqa: BLE001 - every failure is reported the same way
            failed += 1
            print(
                f"{path}: does not load with Keras {keras.__version__} ({str(error).splitlines()[0][:200]})"
            )
    print(f"{len(paths) - failed} of {len(paths)} models load with Keras {keras.__version__}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
