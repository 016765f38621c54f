"""Shared fixtures: the notebook's helper functions, and small sets of real digits."""

import os
import shutil
import types
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from kaggle_standin import KaggleStandIn, kaggle_standin
from local_web import CHROMIUM, CHROMIUM_ARGS
from notebook_helpers import load_notebook_helpers
from testdata.mnist import mnist_digits

# The environment before any test module is imported. Importing cv2 adds LD_LIBRARY_PATH and Qt variables
# for its bundled libraries; inherited by a notebook kernel, an app server or a window started later, they
# break them (no inline figures, a server that never answers). So the environment is reset before and after
# every test: between tests, where module-wide fixtures start their processes, it is always this one.
CLEAN_ENVIRONMENT = dict(os.environ)


def reset_environment() -> None:
    """Make os.environ what it was before the test modules were imported (pytest's own variables aside)."""
    for name in [name for name in os.environ if not name.startswith("PYTEST_")]:
        if name not in CLEAN_ENVIRONMENT:
            del os.environ[name]
    os.environ.update(CLEAN_ENVIRONMENT)
    # urllib builds its default opener once, with the proxies of that moment: tests that fake "no network"
    # with a dead proxy would otherwise leave every later urlopen (say, to a local app server) going there.
    urllib.request.install_opener(None)


@pytest.fixture(autouse=True)
def clean_environment() -> Iterator[None]:
    """Run each test, and leave the next one, with the environment from before the test modules."""
    reset_environment()
    yield
    reset_environment()


def go_offline(mp: pytest.MonkeyPatch, home: Path) -> None:
    """A home folder with no Kaggle credentials, no credential variables, and no network (a dead proxy)."""
    mp.setenv("HOME", str(home))
    for name in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        mp.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        mp.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        mp.setenv(name, "")


@pytest.fixture
def clean_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline (see go_offline), with tmp_path/'home' as the home folder and tmp_path as the current one."""
    home = tmp_path / "home"
    home.mkdir()
    go_offline(monkeypatch, home)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(scope="session")
def nb() -> types.ModuleType:
    """The notebook's helpers, as the notebook defines them, with its parameters (some helpers' defaults)."""
    return load_notebook_helpers()


@pytest.fixture(scope="session")
def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """The test data's 5,000 real MNIST digits (testdata.mnist) as rows: uint8 pixels (5000, 784) and uint8
    labels, 500 of each digit."""
    images, labels = mnist_digits()
    return images.reshape(len(images), -1), labels.astype(np.uint8)


@pytest.fixture
def kaggle_server(tmp_path: Path) -> Iterator[KaggleStandIn]:
    """A local Kaggle API stand-in that the real kaggle client talks to; HOME is tmp_path/'home'."""
    with kaggle_standin(tmp_path / "home") as server:
        yield server


def require_programs(*programs: str, package: str) -> None:
    """Skip the test when a system program it needs is missing (the README says how to install it); in CI,
    where REQUIRE_SYSTEM_PACKAGES=1, fail instead, so that a missing package cannot hide tests."""
    missing = [name for name in programs if not (Path(name).exists() or shutil.which(name))]
    if missing:
        message = f"needs {', '.join(missing)}: apt-get install {package}"
        if os.environ.get("REQUIRE_SYSTEM_PACKAGES") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    require_programs(str(CHROMIUM), package="chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def cnn_digit_check():
    """The committed CNN with its "not a digit" check (models/cnn.keras and models/novelty.npz)."""
    from digitkit.models import DEFAULT_MODEL_DIR, load_model
    from digitkit.novelty import load_digit_check

    path = DEFAULT_MODEL_DIR / "cnn.keras"
    return load_digit_check(load_model(path), path)


@pytest.fixture(scope="session")
def unforeseen_cnn_check(cnn_digit_check):
    """The committed CNN's check with no style read as its digit (novelty.read_by_points switched off), as
    for a style nobody foresaw: what teaching is for. (The styles' prototypes still widen the check.)"""
    from dataclasses import replace

    from digitkit.novelty import DigitCheck

    return DigitCheck(cnn_digit_check.view, replace(cnn_digit_check.clusters, prototype_digits=()))


@pytest.fixture(scope="session")
def unforeseen_model_dir(tmp_path_factory, unforeseen_cnn_check) -> Path:
    """A model folder for the apps ($DIGIT_MODEL_DIR) with the committed CNN and the check of
    unforeseen_cnn_check: the apps' teaching tests draw 1s with a flag as a style nobody foresaw."""
    from digitkit.models import DEFAULT_MODEL_DIR
    from digitkit.novelty import NOVELTY_FILE, saved_arrays

    folder = tmp_path_factory.mktemp("unforeseen_models")
    shutil.copy(DEFAULT_MODEL_DIR / "cnn.keras", folder / "cnn.keras")
    np.savez_compressed(folder / NOVELTY_FILE, **saved_arrays("cnn", unforeseen_cnn_check.clusters))
    return folder


FLAG_SEEDS = range(80)  # drawings of a 1 with a flag (testdata.writers seeds) to choose the tests' ones from


@pytest.fixture(scope="session")
def flag_seeds(unforeseen_cnn_check) -> dict[str, int]:
    """Seeds of 1s with a flag (testdata.writers) by how the committed CNN reads them untaught, with no
    style read as its digit (unforeseen_cnn_check), chosen by its own answers so that a retrained CNN
    does not void the tests: "taught", not read as 1; "misread", read as a sure 7; "refused", not a digit."""
    from digitkit.models import DEFAULT_MODEL_DIR, load_model
    from digitkit.prediction import Status, predict_drawing
    from testdata.writers import style_drawing

    cnn = load_model(DEFAULT_MODEL_DIR / "cnn.keras")
    drawings = {seed: style_drawing("1 with a flag", seed) for seed in FLAG_SEEDS}
    answers = {
        seed: predict_drawing(cnn, drawing, unforeseen_cnn_check) for seed, drawing in drawings.items()
    }
    misread = [s for s, p in answers.items() if p.headline == "Prediction: 7"]
    refused = [s for s, p in answers.items() if p.status is Status.NOT_A_DIGIT]
    taught = [s for s, p in answers.items() if p.headline != "Prediction: 1" and s not in misread[:1]]
    assert misread and refused and taught, "the CNN reads every 1 with a flag of these seeds: choose others"
    return {"taught": taught[0], "misread": misread[0], "refused": refused[0]}


@pytest.fixture(scope="session")
def best_model():
    """The best committed model in models/ (the ensemble), loaded once for the whole run."""
    from digitkit.models import DEFAULT_MODEL_DIR, available_models, load_model

    found = available_models(DEFAULT_MODEL_DIR)
    assert found, f"no model in {DEFAULT_MODEL_DIR}"
    return load_model(next(iter(found.values())))
