"""Check that every package the notebook imports, anywhere in its code, is installed here.

    python scripts/check_imports.py

A run on the embedded sample never reaches some imports (the Kaggle client needs credentials), so CI runs
this in the environment made from requirements.txt alone: a package missing there fails CI, not a user.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "Handwritten_digit_recognition.ipynb"
ONLY_IN_COLAB = {"google"}  # google.colab (secrets, widgets) exists only in Colab; the notebook checks for it


def imported_packages(notebook: Path) -> set[str]:
    """The top-level names of all modules the notebook's code cells import, outside the standard library."""
    names = set()
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(
            line for line in "".join(cell["source"]).splitlines() if not line.startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - ONLY_IN_COLAB


def main() -> int:
    packages = sorted(imported_packages(NOTEBOOK))
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    for name in missing:
        print(f"check_imports: the notebook imports {name!r}, which is not installed here", file=sys.stderr)
    if not missing:
        print(f"The notebook's {len(packages)} imported packages are all installed: {', '.join(packages)}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
