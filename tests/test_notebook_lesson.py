"""The notebook as a lesson: its steps are visible, its split is the scripts' split, its comparisons test
their differences against chance, and its first cell opens it in Colab."""

import json
import re

import numpy as np
import pytest
from notebook_helpers import NOTEBOOK, ROOT

BADGE = re.compile(
    r"\(https://colab\.research\.google\.com/github/[^)\s]+/blob/main/Handwritten_digit_recognition\.ipynb\)"
)


def cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def is_form(cell: dict) -> bool:
    return cell["metadata"].get("cellView") == "form"


def test_the_lessons_split_is_the_split_the_scripts_and_the_ensemble_use(nb, real_digits):
    # "Prepare the data" scales, one-hot encodes and splits in plain code; the scripts (train_ensemble.py)
    # call split_for_training. The ensemble's members are found by a fingerprint of the held-out digits, so
    # the two must give the same arrays, bit for bit.
    (prepare,) = [source(c) for c in cells() if c["cell_type"] == "code" and "x_all = " in source(c)]
    pixels, labels = real_digits
    namespace = {name: getattr(nb, name) for name in ("keras", "np", "train_test_split", "check_splittable")}
    namespace |= {"train_pixels": pixels, "train_labels": labels, "VALIDATION_SIZE": 0.1, "SEED": 3}
    namespace["train_csv"] = "train.csv"
    exec(prepare, namespace)
    expected = nb.split_for_training(pixels, labels, 0.1, 3)
    for name, array in zip(("x_train", "x_val", "y_train", "y_val"), expected, strict=True):
        assert namespace[name].dtype == array.dtype and np.array_equal(namespace[name], array), name
    assert nb.split_fingerprint(namespace["x_val"], namespace["y_val"]) == nb.split_fingerprint(
        *expected[1::2]
    )


def test_the_machinery_is_folded_in_colab_and_jupyterlab_and_the_lesson_is_short_before_the_first_model():
    code = [c for c in cells() if c["cell_type"] == "code"]
    for cell in code:
        if is_form(cell):
            assert source(cell).startswith("# @title "), source(cell)[:80]
            if "parameters" not in cell["metadata"].get("tags", []):  # JupyterLab has no form view
                assert cell["metadata"].get("jupyter", {}).get("source_hidden"), source(cell)[:80]
    first_model = next(i for i, c in enumerate(code) if "keras.Sequential(" in source(c))
    visible = [line for c in code[:first_model] if not is_form(c) for line in source(c).splitlines()]
    assert len(visible) <= 40, len(visible)  # in Colab; JupyterLab shows the parameters cell too
    shown = "\n".join(source(c) for c in code if not is_form(c))
    for step in (
        "/ 255",
        "to_categorical",
        "train_test_split",
        ".compile(",
        ".fit(",
        ".evaluate(",
        ".summary()",
    ):
        assert step in shown, step


def test_the_colab_badge_opens_this_notebook_and_the_readme_gives_the_same_address():
    first = source(cells()[0])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (in_notebook,) = BADGE.findall(first)
    assert BADGE.findall(readme) == [in_notebook]
    assert "Change runtime type" in first and "Run all" in first


def test_nothing_the_notebook_says_points_to_files_outside_it():
    text = "\n".join(source(c) for c in cells() if c["cell_type"] == "markdown" or not is_form(c))
    assert not re.findall(r"scripts/\w+\.py|apps/\w+", text)


def test_mcnemars_exact_test(nb):
    right = np.ones(100, bool)
    assert nb.mcnemar_p(right, right) == 1.0  # no disagreement: no evidence of a difference
    b_better = right.copy()
    a = right.copy()
    a[:6] = False  # 6 digits only b gets right, none only a gets right
    assert nb.mcnemar_p(a, b_better) == pytest.approx(2 / 2**6)
    a[6] = True
    b_better[10] = False  # and one only a gets right: 6 to 1
    assert nb.mcnemar_p(a, b_better) == pytest.approx(2 * (1 + 7) / 2**7)
    assert nb.mcnemar_p(b_better, a) == nb.mcnemar_p(a, b_better)
    assert "no difference beyond chance" in nb.verdict("A", a, "B", b_better)
    assert "B is better" in nb.verdict(
        "A", np.r_[np.zeros(10, bool), right], "B", np.r_[~np.zeros(10, bool), right]
    )


def test_the_bootstrap_interval_holds_the_count_it_resamples(nb):
    right = np.ones(4200, bool)
    right[:20] = False
    low, high = nb.wrong_interval(right)
    assert low < 20 < high and 5 < high - low < 25  # about +-2 sqrt(20)


def test_training_prints_one_line_per_epoch(nb, real_digits, capsys):
    pixels, labels = real_digits
    x, y = nb.normalize(pixels[:256]), nb.keras.utils.to_categorical(labels[:256], 10)
    model = nb.build_tuned_mlp()
    nb.train_scheduled(model, x, y, x[:64], y[:64], 3, 64, 1e-3, None, seed=0, watched="out of bag")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(
        line.startswith(f"epoch  {i}/3: loss ") for i, line in zip((1, 2, 3), lines, strict=True)
    )
    assert "| out of bag: loss " in lines[0] and "| learning rate " in lines[0]
    nb.train_scheduled(model, x, y, None, None, 2, 64, 1e-3, None, seed=0)  # watching nothing
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "|" in lines[0] and "watched" not in lines[0]
