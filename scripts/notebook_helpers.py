"""Use the notebook's own helper functions and default parameters from scripts, benchmarks and tests.

The notebook is the single place these functions are defined (it must run alone in Colab), apart from the
cells it copies from the apps' digitkit (scripts/sync_notebook.py). This module runs its cells tagged
"helpers" (imports and function definitions only) and "parameters" into a module.
"""

import argparse
import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "Handwritten_digit_recognition.ipynb"


def load_notebook_helpers(tags: tuple[str, ...] = ("helpers", "parameters")) -> types.ModuleType:
    """Run the notebook's cells with any of the given tags, in order, into a fresh module.

    ("parameters",) alone is quick: it gives the defaults without importing TensorFlow.
    """
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    module = types.ModuleType("notebook_helpers")
    module.__file__ = str(NOTEBOOK)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and set(tags) & set(cell["metadata"].get("tags", [])):
            exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), module.__dict__)
    return module


def add_data_and_models_arguments(parser: argparse.ArgumentParser) -> None:
    """The --data and --models options of the scripts that read the notebook's split and the saved models."""
    from digitkit.models import DEFAULT_MODEL_DIR

    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT / "dataset",
        help="folder with train.csv or Kaggle's zip (as DATA_DIR)",
    )
    parser.add_argument("--models", type=Path, default=DEFAULT_MODEL_DIR, help="folder of the saved models")


def chosen_model(model_dir: Path, name: str | None) -> tuple[str, Path]:
    """The saved model called `name` (None: the apps' default, the first found) and its path; exits with
    one line naming the models there are when there is no such model."""
    from digitkit.models import available_models

    models = available_models(model_dir)
    name = name or next(iter(models), None)
    if name not in models:
        sys.exit(f"{model_dir}: no model {name!r} (found: {', '.join(models) or 'none'})")
    return name, models[name]


def labelled_split(data_dir: Path) -> tuple:
    """The notebook's helpers and its split (x_train, x_val, y_train, y_val) with the labels as digits, not
    one-hot; exits with one line when `data_dir` is not a folder."""
    if not data_dir.is_dir():
        sys.exit(f"{data_dir}: not a folder (give the folder holding train.csv or digit-recognizer.zip)")
    nb = load_notebook_helpers()
    x_train, x_val, y_train, y_val = nb.training_split(data_dir, nb.VALIDATION_SIZE, nb.SEED)
    return nb, x_train, x_val, y_train.argmax(axis=1), y_val.argmax(axis=1)
