"""Copy the rules the notebook shares with the apps from apps/digitkit into the notebook's folded cells.

    python scripts/sync_notebook.py          # rewrite the generated cells, then jupytext --sync the pair
    python scripts/sync_notebook.py --check  # exit 1, naming each generated cell that differs

The notebook must run alone (uploaded to Colab by itself), so it carries copies; apps/digitkit holds the one
source: the MNIST recipe, "Not sure", the digit check, ensemble averaging, atomic writes and the TensorFlow
log filter. Each cell in CELLS is made of named top-level definitions of digitkit's modules (functions,
classes and constants, each with the comment lines just above it), in the modules' order, without the
modules' imports: the notebook's first cell imports what they use, and Ruff's undefined-name check finds
one it lacks. The cells are folded Colab forms tagged "helpers", found by their title; this script writes
them in Handwritten_digit_recognition.py and jupytext copies them into the .ipynb. Edit digitkit, never
these cells, then run this script (tests/test_project.py fails until the copies match).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "Handwritten_digit_recognition.py"
DIGITKIT = ROOT / "apps" / "digitkit"
HEADER = '# %% cellView="form" jupyter={"source_hidden": true} tags=["helpers"]'


@dataclass(frozen=True)
class GeneratedCell:
    """A notebook cell copied from digitkit: its title and, per module, the names of the definitions."""

    title: str
    parts: tuple[tuple[str, tuple[str, ...]], ...]  # (module in apps/digitkit, names defined there)


CELLS = (
    GeneratedCell(
        "Shared with the apps: TensorFlow without its start-up log",
        (
            (
                "quiet_keras",
                (
                    "_LOG_LINE",
                    "_ABSL_PREAMBLE",
                    "_lock",
                    "_keras",
                    "is_start_up_chatter",
                    "stderr_without_chatter",
                    "import_keras",
                ),
            ),
        ),
    ),
    GeneratedCell(
        "Shared with the apps: atomic writes",
        (("files", ("TEMPORARY_NAME", "_current_umask", "_link_without_replacing", "write_atomically")),),
    ),
    GeneratedCell(
        "Shared with the apps: calling a model, averaging an ensemble",
        (
            (
                "models",
                (
                    "ENSEMBLE",
                    "INPUT_SIZE",
                    "CLASS_COUNT",
                    "_BATCH_SIZE",
                    "member_files",
                    "averaged",
                    "_checked_batch",
                    "padded_batches",
                    "predict_proba",
                ),
            ),
        ),
    ),
    GeneratedCell(
        "Shared with the apps: the digit check (is it a digit at all?)",
        (
            (
                "novelty",
                (
                    "NOVELTY_FILE",
                    "REFUSED_SHARE",
                    "NEARER_RATIO",
                    "THAN_OTHER_DIGITS",
                    "squared_distances",
                    "Clusters",
                    "DigitClusters",
                    "combined",
                    "nearest_combined",
                    "read_by_points",
                    "fit_layer",
                    "with_prototypes",
                    "_feature_outputs",
                    "feature_view",
                    "features_and_probabilities",
                    "file_sha256",
                    "DigitCheck",
                    "saved_arrays",
                    "fit_clusters",
                ),
            ),
        ),
    ),
    GeneratedCell(
        "Shared with the apps: the MNIST recipe and the answer's words",
        (
            ("pixels", ("ImageArrayError", "_to_uint8", "_channels", "to_gray", "border_median")),
            (
                "preprocess",
                (
                    "FIELD_SIZE",
                    "DIGIT_SIZE",
                    "FIELD_CENTRE",
                    "INK_LEVEL",
                    "MIN_CONTRAST",
                    "EmptyImageError",
                    "_as_unit_gray",
                    "_ink_bright",
                    "_scale_to_digit_size",
                    "_place_by_centre_of_mass",
                    "to_model_input_image",
                ),
            ),
            (
                "prediction",
                (
                    "UNSURE_THRESHOLD",
                    "CANDIDATE_MIN_PROBABILITY",
                    "Status",
                    "percent",
                    "top_k",
                    "Prediction",
                    "prediction_from",
                    "predict_drawing",
                ),
            ),
        ),
    ),
    GeneratedCell(
        "Shared with the apps: teaching the model your handwriting",
        (
            (
                "teaching",
                (
                    "MAX_EXAMPLES",
                    "FILE_KIND",
                    "EXAMPLE_TURNS",
                    "TAUGHT_RATIO",
                    "POINTS_PER_EXAMPLE",
                    "HALFWAY",
                    "NEEDS_CHECK",
                    "TeachingFileError",
                    "TaughtExamples",
                    "_checked",
                    "combined_distances",
                    "halfway_squares",
                    "answers_with_examples",
                    "predict_with_examples",
                    "from_example_words",
                ),
            ),
        ),
    ),
)


def defined_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement defines: a function's, a class's, or an assignment's targets."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {target.id for target in node.targets if isinstance(target, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def definitions(module: str, names: tuple[str, ...]) -> str:
    """The named top-level definitions of apps/digitkit/<module>.py, each with the comment lines just above
    it, in the module's order; definitions next to each other there stay together as written."""
    path = DIGITKIT / f"{module}.py"
    lines = path.read_text(encoding="utf-8").splitlines()
    spans: list[list] = []  # [first line, end line, starts with a def or class, ends with one]
    found: set[str] = set()
    for node in ast.parse("\n".join(lines)).body:
        if not defined_names(node) & set(names):
            continue
        found |= defined_names(node)
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        is_def = not isinstance(node, (ast.Assign, ast.AnnAssign))
        if spans and not any(line.strip() for line in lines[spans[-1][1] : start]):
            spans[-1][1:] = [node.end_lineno, spans[-1][2], is_def]
        else:
            spans.append([start, node.end_lineno, is_def, is_def])
    if missing := sorted(set(names) - found):
        raise SystemExit(f"{path}: no top-level definition of {', '.join(missing)}")
    text = ""
    for k, (start, end, starts_with_def, _) in enumerate(spans):
        if k:  # two blank lines around a def or class (as Ruff formats them), else one
            text += "\n\n\n" if starts_with_def or spans[k - 1][3] else "\n\n"
        text += "\n".join(lines[start:end])
    return text


def cell_source(cell: GeneratedCell) -> str:
    """The generated cell as it stands in the notebook's script: title line, origin line, definitions."""
    modules = ", ".join(f"{module}.py" for module, _ in cell.parts)
    body = "\n\n\n".join(definitions(module, names) for module, names in cell.parts)
    return (
        f'# @title {cell.title} {{display-mode: "form"}}\n'
        f"# Copied by scripts/sync_notebook.py from apps/digitkit ({modules}): edit the original, not this copy.\n"
        f"{body}\n"
    )


def with_cell(text: str, cell: GeneratedCell) -> str:
    """The notebook's script with this generated cell (header line and source) as the generator makes it."""
    title = f'# @title {cell.title} {{display-mode: "form"}}\n'
    if text.count(title) != 1:
        raise SystemExit(
            f"{SCRIPT.name}: expected one cell titled {cell.title!r}, found {text.count(title)}; add one where"
            f" it belongs: a line `{HEADER}`, then `{title.strip()}`"
        )
    at = text.index(title)
    header = text.rindex("\n# %%", 0, at) + 1  # the line that starts this cell
    following = text.find("\n# %%", at)  # the newline before the next cell's header
    end = len(text) if following < 0 else following + 1
    return text[:header] + HEADER + "\n" + cell_source(cell) + ("\n\n" if following >= 0 else "") + text[end:]


def synced(text: str) -> str:
    """The notebook's script with every generated cell as the generator makes it now."""
    for cell in CELLS:
        text = with_cell(text, cell)
    return text


def stale_cells(text: str) -> list[str]:
    """The titles of the generated cells that differ from what the generator makes now."""
    return [cell.title for cell in CELLS if with_cell(text, cell) != text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a cell differs")
    check = parser.parse_args().check
    text = SCRIPT.read_text(encoding="utf-8")
    stale = stale_cells(text)
    if check:
        for title in stale:
            print(f"{SCRIPT.name}: the cell {title!r} differs from apps/digitkit", file=sys.stderr)
        if stale:
            print("run: python scripts/sync_notebook.py", file=sys.stderr)
        return 1 if stale else 0
    if stale:
        SCRIPT.write_text(synced(text), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(SCRIPT)], check=True)
    print(
        f"{len(CELLS)} generated cells: {len(stale)} rewritten, {len(CELLS) - len(stale)} already up to date"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
