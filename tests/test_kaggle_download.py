"""The notebook's Kaggle step, driving the real kaggle client against the local stand-in server."""

import json

import numpy as np
import pytest
from kaggle_standin import make_zip

pytestmark = pytest.mark.slow  # each test drives the real kaggle client against a local server


@pytest.fixture
def competition_zip(nb, tmp_path, real_digits) -> bytes:
    """A small digit-recognizer.zip: a 60-row train.csv and a 20-row test.csv without labels."""
    pixels, labels = real_digits
    nb.write_digits_csv(tmp_path / "train.csv", pixels[::80][:60], labels[::80][:60])
    nb.write_digits_csv(tmp_path / "test.csv", pixels[1::250][:20])
    return make_zip({name: (tmp_path / name).read_bytes() for name in ("train.csv", "test.csv")})


@pytest.fixture
def offline_keras(nb, monkeypatch):
    """Keras' MNIST download fails as it does without a network."""

    def no_network():
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- no network")

    monkeypatch.setattr(nb.keras.datasets.mnist, "load_data", no_network)


def test_competition_download_with_a_token(nb, kaggle_server, competition_zip, tmp_path, monkeypatch, capsys):
    kaggle_server.add_competition("digit-recognizer", competition_zip)
    monkeypatch.setenv("KAGGLE_API_TOKEN", kaggle_server.valid_token)
    train, test, source = nb.get_data(tmp_path / "data", "digit-recognizer")
    assert source == "Kaggle competition digit-recognizer"
    assert (train, test) == (tmp_path / "data" / "train.csv", tmp_path / "data" / "test.csv")
    labels, pixels = nb.load_digits_csv(train, "train")
    assert pixels.shape == (60, 784) and len(labels) == 60
    assert kaggle_server.calls("DownloadDataFiles")[-1].auth == "token"
    out = capsys.readouterr().out
    assert out == "Kaggle: using credentials from the KAGGLE_API_TOKEN environment variable\n"
    assert kaggle_server.valid_token not in out


def test_uploaded_kaggle_json_is_installed_and_used(
    nb, kaggle_server, competition_zip, tmp_path, monkeypatch
):
    kaggle_server.add_competition("digit-recognizer", competition_zip)
    notebook_dir = tmp_path / "content"
    notebook_dir.mkdir()
    (notebook_dir / "kaggle.json").write_text(
        json.dumps({"username": kaggle_server.valid_username, "key": kaggle_server.valid_key})
    )
    monkeypatch.chdir(notebook_dir)
    train, _, source = nb.get_data(tmp_path / "data", "digit-recognizer")
    assert source == "Kaggle competition digit-recognizer" and train.is_file()
    installed = kaggle_server.home / ".kaggle" / "kaggle.json"
    assert installed.stat().st_mode & 0o777 == 0o600
    assert kaggle_server.calls("DownloadDataFiles")[-1].auth == "basic"


def test_dataset_download_finds_differently_named_csvs(
    nb, kaggle_server, competition_zip, tmp_path, monkeypatch
):
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(competition_zip)) as zf:
        renamed = make_zip({"mnist_train.csv": zf.read("train.csv"), "mnist_test.csv": zf.read("test.csv")})
    kaggle_server.add_dataset("someone/mnist-in-csv", renamed)
    monkeypatch.setenv("KAGGLE_USERNAME", kaggle_server.valid_username)
    monkeypatch.setenv("KAGGLE_KEY", kaggle_server.valid_key)
    train, test, source = nb.get_data(tmp_path / "data", "digit-recognizer", dataset="someone/mnist-in-csv")
    assert source == "Kaggle dataset someone/mnist-in-csv"
    assert (train.name, test.name) == ("mnist_train.csv", "mnist_test.csv")
    assert train.parent == tmp_path / "data" / "someone__mnist-in-csv"
    # A second run finds the download locally and asks Kaggle nothing more.
    before = len(kaggle_server.requests)
    assert nb.get_data(tmp_path / "data", "digit-recognizer", dataset="someone/mnist-in-csv")[0] == train
    assert len(kaggle_server.requests) == before


@pytest.mark.parametrize(
    ("setup", "line"),
    [
        (
            "bad key",
            "Kaggle: skipped, Kaggle rejected the credentials (401 Unauthorized): create a new token at "
            "kaggle.com/settings/api",
        ),
        (
            "rules not accepted",
            "Kaggle: skipped, Kaggle refused competition digit-recognizer (403 Forbidden): sign in and accept "
            "the rules on https://www.kaggle.com/competitions/digit-recognizer/rules, then run this cell again",
        ),
        (
            "unknown competition",
            "Kaggle: skipped, Kaggle has no competition digit-recognizer (404 Not Found): check the name",
        ),
        ("no network", "Kaggle: skipped, Kaggle is unreachable (no network?): ConnectionError"),
    ],
)
def test_kaggle_failures_are_one_line_and_the_chain_goes_on(
    nb, kaggle_server, competition_zip, tmp_path, monkeypatch, capsys, offline_keras, setup, line
):
    if setup != "unknown competition":
        kaggle_server.add_competition(
            "digit-recognizer", competition_zip, rules_accepted=setup != "rules not accepted"
        )
    monkeypatch.setenv("KAGGLE_USERNAME", kaggle_server.valid_username)
    monkeypatch.setenv("KAGGLE_KEY", "wrong-key" if setup == "bad key" else kaggle_server.valid_key)
    if setup == "no network":
        kaggle_server.go_offline()
    _, _, source = nb.get_data(tmp_path / "data", "digit-recognizer", seed=3)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Kaggle: using credentials from the KAGGLE_USERNAME and KAGGLE_KEY environment variables",
        line,
        "Keras MNIST: skipped, Keras could not download MNIST: URL fetch failure on "
        "https://storage.googleapis.com/...: None -- no network",
    ]
    assert source.startswith("the EMBEDDED SAMPLE")
    assert not list((tmp_path / "data").glob("*.csv"))  # nothing half-downloaded is left behind
    assert np.all([kaggle_server.valid_key not in text for text in out])
