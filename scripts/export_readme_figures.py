"""Copy figures from the executed notebook into docs/ for the README, so they always match the committed run.

python scripts/export_readme_figures.py
"""

import base64
import json

from notebook_helpers import NOTEBOOK, ROOT

# (a piece of the code cell that draws the figure, the file it goes to, which of the cell's figures)
FIGURES = [
    ("plot_history(cnn_history", "docs/cnn_learning_curves.png", 0),
    ("ensemble_predicted = ensemble_probabilities.argmax", "docs/ensemble_confusion_matrix.png", 0),
    ("ensemble_predicted = ensemble_probabilities.argmax", "docs/ensemble_mistakes.png", 1),
    ("plot_members_curve(member_probabilities, val_labels", "docs/ensemble_members_curve.png", 0),
]


def main() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    for marker, target, index in FIGURES:
        cell = next(c for c in cells if c["cell_type"] == "code" and marker in "".join(c["source"]))
        images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if len(images) <= index:
            raise SystemExit(
                f"{NOTEBOOK.name}: the cell with {marker!r} has no figure {index + 1}; run the notebook first"
            )
        (ROOT / target).write_bytes(base64.b64decode(images[index]))
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
