"""Check that a run of the notebook wrote everything the README promises, and say what it wrote.

    python scripts/check_run.py [OUTPUT_DIR]

Looks in OUTPUT_DIR (default outputs/) for the executed notebook, metrics.json, submission.csv, the
models (models/mlp.keras, cnn.keras, distilled.keras and the ensemble's members) and their digit check
(models/novelty.npz, read as the apps read it: digitkit, the apps' package, must be importable, as it is
after `pip install -e .`; `make run` puts apps/ on PYTHONPATH), as `make run` writes them. Prints one line
per file and the validation accuracies; exits 1 with one line per missing or broken file.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

NOTEBOOK = "Handwritten_digit_recognition.ipynb"
MODELS = ("mlp", "cnn", "distilled")


def digit_check_problems(models: Path) -> tuple[list[str], list[str]]:
    """What is wrong with the digit check of the models in a folder (the statistics in its novelty.npz must
    be there, readable and fitted for each model file as it is now), and a line saying what is fine."""
    from digitkit.models import available_models
    from digitkit.novelty import NOVELTY_FILE, NoveltyError, file_sha256, load_clusters

    path, problems, checked = models / NOVELTY_FILE, [], []
    for name, model_path in available_models(models).items():
        try:
            clusters = load_clusters(name, path)
        except NoveltyError as error:
            problems.append(str(error))
            continue
        if clusters.model_sha256 != file_sha256(model_path):
            problems.append(f"{path}: the digit check of the {name} was fitted for another version of it")
        else:
            checked.append(name)
    found = [f"  {path}: the digit check of the {', '.join(checked)}"] if checked else []
    return problems, found


def problems_in(out: Path) -> tuple[list[str], list[str]]:
    """What is wrong with the run's outputs (empty when nothing is), and a line for each file that is fine."""
    problems, found = [], []

    def check(path: Path, what: str) -> bool:
        if path.is_file() and path.stat().st_size > 0:
            found.append(f"  {path} ({path.stat().st_size / 1e6:.2f} MB): {what}")
            return True
        problems.append(f"{path}: missing or empty ({what})")
        return False

    if check(out / NOTEBOOK, "the executed notebook"):
        cells = json.loads((out / NOTEBOOK).read_text(encoding="utf-8"))["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            problems.append(
                f"{out / NOTEBOOK}: a cell failed ({errors[0].get('ename')}: {errors[0].get('evalue')})"
            )
    metrics = {}
    if check(out / "metrics.json", "validation scores"):
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    if check(out / "submission.csv", "Kaggle submission"):
        with open(out / "submission.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if rows[0] != ["ImageId", "Label"] or len(rows) < 2:
            problems.append(
                f"{out / 'submission.csv'}: expected the header ImageId,Label and at least one row"
            )
    for name in MODELS:
        check(out / "models" / f"{name}.keras", f"the {name} model")
    members = sorted((out / "models" / "ensemble").glob("*.keras"))
    expected = metrics.get("ensemble", {}).get("members")
    if expected is not None and len(members) < expected:
        problems.append(
            f"{out / 'models' / 'ensemble'}: {len(members)} member files, the run used {expected}"
        )
    found.append(f"  {out / 'models' / 'ensemble'}/: {len(members)} ensemble members")
    novelty_problems, novelty_found = digit_check_problems(out / "models")
    problems += novelty_problems
    found += novelty_found
    for name in ("mlp", "tuned_mlp", "cnn", "ensemble", "distilled"):
        if name not in metrics:
            problems.append(f"{out / 'metrics.json'}: no scores for the {name}")
    return problems, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("outputs"))
    out = parser.parse_args().out
    problems, found = problems_in(out)
    if problems:
        for problem in problems:
            print(f"check_run: {problem}", file=sys.stderr)
        return 1
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    print(f"The run wrote everything (data: {metrics['data'].split(':')[0]}):")
    print("\n".join(found))
    scores = ", ".join(
        f"{name} {metrics[name]['val_accuracy']:.2%}"
        for name in ("mlp", "tuned_mlp", "cnn", "ensemble", "distilled")
    )
    print(f"Validation accuracy: {scores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
