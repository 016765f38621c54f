"""Project hygiene: the notebook and its script agree, the code is Ruff-clean, no data or secrets are tracked."""

import json
import subprocess
import sys

import jupytext
from notebook_helpers import NOTEBOOK, ROOT
from sync_notebook import CELLS, SCRIPT, stale_cells


def code_cells(notebook) -> list[tuple[str, list[str]]]:
    return [
        (cell.source.strip(), sorted(cell.metadata.get("tags", [])))
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def test_notebook_and_its_script_hold_the_same_code():
    script = jupytext.read(ROOT / "Handwritten_digit_recognition.py")
    notebook = jupytext.read(NOTEBOOK)
    assert code_cells(script) == code_cells(notebook)


def test_notebook_has_one_parameters_cell_and_helpers_are_defined_once():
    notebook = json.loads(NOTEBOOK.read_text())
    tagged = [cell for cell in notebook["cells"] if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1
    definitions = [
        line.split("(")[0]
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("def ")
    ]
    assert len(definitions) == len(set(definitions)), sorted(definitions)
    assert not any("import digitkit" in "".join(cell["source"]) for cell in notebook["cells"])


def test_the_notebooks_copies_of_the_apps_code_are_up_to_date():
    # The notebook carries copies of apps/digitkit's rules (it must run alone); edit digitkit, then run
    # scripts/sync_notebook.py. Its --check is this test.
    result = subprocess.run(
        [sys.executable, "scripts/sync_notebook.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_a_copy_that_differs_from_the_apps_code_is_found():
    script = SCRIPT.read_text(encoding="utf-8")
    threshold = next(cell.title for cell in CELLS if "MNIST recipe" in cell.title)
    edited = script.replace("\nUNSURE_THRESHOLD = 0.95\n", "\nUNSURE_THRESHOLD = 0.9\n")
    assert edited != script and stale_cells(edited) == [threshold]
    files = next(cell.title for cell in CELLS if "atomic writes" in cell.title)
    edited = script.replace("    os.close(descriptor)\n", "", 1)  # a line of write_atomically gone
    assert edited != script and stale_cells(edited) == [files]


def test_ruff_lint_and_format_are_clean():
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_no_datasets_or_credentials_are_tracked():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [path for path in tracked if path.endswith((".csv", ".csv.gz", "kaggle.json", "access_token"))]
    assert not [path for path in tracked if path.startswith("dataset/") and path != "dataset/README.md"]
