"""The notebook's data-source chain: local files, Kaggle credentials, Keras' MNIST, the embedded sample."""

import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from hostile_files import DEFLATE64, ENCRYPTED, Member, compress, zip_bomb, zip_of

SECRET = "KGAT_0123456789abcdef0123456789abcdef"


def small_csv(nb, folder, real_digits, name="train.csv", rows=40):
    pixels, labels = real_digits
    return nb.write_digits_csv(folder / name, pixels[::125][:rows], labels[::125][:rows])


@pytest.mark.slow
def test_local_train_csv_wins(nb, tmp_path, real_digits, capsys):
    small_csv(nb, tmp_path, real_digits)
    train, test, source = nb.get_data(tmp_path, "digit-recognizer")
    assert (train, test, source) == (tmp_path / "train.csv", None, f"local files in {tmp_path}/")
    assert capsys.readouterr().out == ""


def test_kaggle_zip_in_the_data_folder_is_extracted(nb, tmp_path, real_digits):
    source = tmp_path / "src"
    source.mkdir()
    small_csv(nb, source, real_digits, "train.csv")
    small_csv(nb, source, real_digits, "test.csv")
    data = tmp_path / "data"
    data.mkdir()
    with zipfile.ZipFile(data / "digit-recognizer.zip", "w") as zf:
        for name in ("train.csv", "test.csv"):
            zf.write(source / name, name)
    train, test, _ = nb.get_data(data, "digit-recognizer")
    assert (train.name, test.name) == ("train.csv", "test.csv")
    assert train.read_bytes() == (source / "train.csv").read_bytes()


def test_extracting_never_replaces_an_existing_file(nb, tmp_path):
    (tmp_path / "test.csv").write_text("mine")
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        zf.writestr("test.csv", "from the zip")
        zf.writestr("train.csv", "label\n")
    nb.extract_zip(tmp_path / "d.zip", tmp_path)
    assert (tmp_path / "test.csv").read_text() == "mine"
    assert (tmp_path / "train.csv").read_text() == "label\n"


@pytest.mark.slow
def test_a_second_run_reuses_the_data_and_changes_no_file(nb, clean_home, tmp_path):
    first = nb.get_data(tmp_path / "data", "digit-recognizer", seed=3)
    files = sorted((tmp_path / "data").rglob("*"))
    before = {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in files if path.is_file()}
    second = nb.get_data(tmp_path / "data", "digit-recognizer", seed=3)
    assert second[:2] == first[:2]
    assert sorted((tmp_path / "data").rglob("*")) == files
    assert {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in before} == before


def test_broken_zip_is_an_error_not_skipped(nb, tmp_path):
    (tmp_path / "digit-recognizer.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(nb.DataSourceError, match=r"digit-recognizer.zip is not a readable zip file"):
        nb.get_data(tmp_path, "digit-recognizer")


def test_dataset_csvs_are_found_whatever_they_are_called(nb, tmp_path):
    for name in ("mnist_train.csv", "mnist_test.csv", "README.md"):
        (tmp_path / name).write_text("x")
    assert nb.find_data_files(tmp_path) == (tmp_path / "mnist_train.csv", tmp_path / "mnist_test.csv")


@pytest.mark.slow
def test_no_credentials_no_network_falls_back_to_the_sample(nb, clean_home, tmp_path, capsys):
    train, test, source = nb.get_data(tmp_path / "data", "digit-recognizer", seed=1)
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0]
        == "Kaggle: skipped, no credentials (set KAGGLE_API_TOKEN or add kaggle.json; see the text above)"
    )
    assert out[-1].startswith("Keras MNIST: skipped, Keras could not download MNIST: URL fetch failure")
    assert source.startswith("the EMBEDDED SAMPLE of 5,000 real MNIST digits")
    labels, pixels = nb.load_digits_csv(train, "train")
    test_labels, test_pixels = nb.load_digits_csv(test, "test")
    assert pixels.shape == (4000, 784) and test_pixels.shape == (1000, 784)
    assert np.bincount(np.concatenate([labels, test_labels])).tolist() == [500] * 10


def test_keras_mnist_is_written_in_kaggle_layout_with_labelled_test(
    nb, clean_home, tmp_path, monkeypatch, real_digits
):
    pixels, labels = real_digits
    images = pixels.reshape(-1, 28, 28)
    fake = ((images[:300], labels[:300]), (images[300:400], labels[300:400]))
    monkeypatch.setattr(nb.keras.datasets.mnist, "load_data", lambda: fake)
    train, test, source = nb.get_data(tmp_path / "data", "digit-recognizer")
    assert source.startswith("Keras' copy of MNIST")
    assert train.read_text().startswith("label,pixel0,")
    test_labels, test_pixels = nb.load_digits_csv(test, "test")
    np.testing.assert_array_equal(test_labels, labels[300:400])
    np.testing.assert_array_equal(test_pixels, pixels[300:400])


# --- what a killed run leaves, and hostile archives --------------------------------------------------------


def test_leftover_of_a_killed_write_is_never_taken_for_the_data(
    nb, clean_home, tmp_path, monkeypatch, real_digits
):
    # A run killed while writing Keras' MNIST as train.csv leaves its temporary file, cut after a whole row.
    pixels, labels = real_digits
    data = tmp_path / "data"
    killed = nb.write_digits_csv(data / "whole.csv", pixels[:40], labels[:40])
    lines = killed.read_text().splitlines(keepends=True)
    killed = killed.rename(data / ".train.k3x9q2ab.tmp.csv")
    killed.write_text("".join(lines[:21]))
    an_hour_ago = time.time() - 3600
    os.utime(killed, (an_hour_ago, an_hour_ago))
    writing = data / ".test.p0q1r2s3.tmp.csv"  # another run writing this one now: left alone
    writing.write_text(lines[0])
    images = pixels.reshape(-1, 28, 28)
    mnist = ((images[:300], labels[:300]), (images[300:400], labels[300:400]))
    monkeypatch.setattr(nb.keras.datasets.mnist, "load_data", lambda: mnist)
    train, test, source = nb.get_data(data, "digit-recognizer")
    assert source.startswith("Keras' copy of MNIST")
    assert (train, test) == (data / "train.csv", data / "test.csv")
    assert len(nb.load_digits_csv(train, "train")[0]) == 300
    assert not killed.exists() and writing.exists()


# The Files cells alone (atomic writes, finding and unzipping), with the imports they use, in a fresh process
# (no TensorFlow): its peak memory is then the extraction's.
EXTRACTION_PEAK = """
import contextlib, errno, json, os, re, resource, shutil, sys, tempfile, time, zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
cells = ["".join(c["source"]) for c in json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["cells"]]
exec(next(c for c in cells if c.startswith("# @title Shared with the apps: atomic writes")))
exec(next(c for c in cells if c.startswith("# @title Files:")))
before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
try:
    find_local_data(Path(sys.argv[2]))
except DataSourceError as error:
    print(error)
print(time.perf_counter() - start)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_zip_bomb_in_the_data_folder_is_refused_before_unpacking_in_bounded_time_and_memory(nb, tmp_path):
    archive = tmp_path / "digit-recognizer.zip"
    archive.write_bytes(zip_bomb("train.csv", 2_700_000_000))  # 2.7 MB
    child = subprocess.run(
        [sys.executable, "-c", EXTRACTION_PEAK, nb.__file__, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    message, seconds, growth_kib = child.stdout.strip().splitlines()[-3:]
    assert message == (
        f"{archive}: train.csv unpacks to 2,700,000,000 bytes, more than this notebook loads (2,147,483,648)"
    )
    assert float(seconds) < 2 and int(growth_kib) < 64 * 1024  # it took 28 s and 5.1 GB, left 2.7 GB on disk
    assert os.listdir(tmp_path) == [archive.name]


def csv_of(nb, folder, real_digits, rows=20) -> bytes:
    """A small labelled CSV of real digits."""
    pixels, labels = real_digits
    return nb.write_digits_csv(folder / "source.csv", pixels[:rows], labels[:rows]).read_bytes()


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (dict(flags=ENCRYPTED), "is encrypted; unzip it yourself with its password"),
        (
            dict(method=DEFLATE64),
            "is compressed with Deflate64 (from Windows' zipper), which this notebook does not unpack; "
            "unzip it yourself",
        ),
        (
            dict(method=zipfile.ZIP_BZIP2),  # bzip2 is unpacked a whole block at a time: 4 KB can hold 5 GB
            "is compressed with bzip2, which this notebook does not unpack; unzip it yourself",
        ),
        (
            dict(stored=b"\xff" * 64),  # a Deflate block of the reserved type
            "is damaged (zlib.error: Error -3 while decompressing data: invalid block type)",
        ),
        (dict(crc=1), "is damaged (BadZipFile: Bad CRC-32 for file 'train.csv')"),
    ],
    ids=["encrypted", "deflate64", "bzip2", "damaged-deflate", "bad-crc"],
)
def test_member_that_cannot_be_unpacked_is_one_line_naming_the_zip(
    nb, tmp_path, real_digits, member, problem
):
    text = csv_of(nb, tmp_path / "source", real_digits)
    if member.get("method") == DEFLATE64:
        member["stored"] = compress(text, zipfile.ZIP_DEFLATED)  # Deflate64 reads plain Deflate
    data = tmp_path / "data"
    data.mkdir()
    archive = data / "digit-recognizer.zip"
    archive.write_bytes(zip_of([Member("test.csv", text), Member("train.csv", text, **member)]))
    with pytest.raises(nb.DataSourceError) as error:
        nb.find_local_data(data)
    assert str(error.value) == f"{archive}: train.csv {problem}"
    # Headers are checked before any member is unpacked; damaged data shows while unpacking, after test.csv.
    # Either way no train.csv, whole or partial, and no temporary file is left.
    unpacked = {"test.csv"} if "damaged" in problem else set()
    assert set(os.listdir(data)) == {archive.name} | unpacked


def test_two_csv_files_of_one_name_in_a_zip_are_refused_not_one_picked(nb, tmp_path, real_digits):
    text = csv_of(nb, tmp_path / "source", real_digits)
    data = tmp_path / "data"
    data.mkdir()
    archive = data / "digit-recognizer.zip"
    archive.write_bytes(zip_of([Member("a/train.csv", text), Member("b/train.csv", text[:-100])]))
    with pytest.raises(nb.DataSourceError) as error:
        nb.find_local_data(data)
    assert str(error.value) == (
        f"{archive}: holds two files named train.csv (a/train.csv and b/train.csv); keep the one to use"
    )
    assert os.listdir(data) == [archive.name]


# --- finding credentials --------------------------------------------------------------------------------


def test_no_credentials_found(nb, clean_home):
    assert nb.find_kaggle_credentials() is None


def test_token_in_the_environment(nb, clean_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", SECRET)
    assert nb.find_kaggle_credentials() == "the KAGGLE_API_TOKEN environment variable"


def test_access_token_file(nb, clean_home):
    (clean_home / ".kaggle").mkdir()
    (clean_home / ".kaggle" / "access_token").write_text(SECRET + "\n")
    assert nb.find_kaggle_credentials() == f"{clean_home / '.kaggle' / 'access_token'}"


def test_username_and_key_variables(nb, clean_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    assert nb.find_kaggle_credentials() == "the KAGGLE_USERNAME and KAGGLE_KEY environment variables"


def test_uploaded_kaggle_json_is_installed_privately(nb, clean_home, tmp_path):
    (tmp_path / "kaggle.json").write_text(json.dumps({"username": "ada", "key": SECRET}))
    where = nb.find_kaggle_credentials(tmp_path)
    installed = clean_home / ".kaggle" / "kaggle.json"
    assert where == f"{tmp_path / 'kaggle.json'} (installed into {clean_home / '.kaggle'} with mode 600)"
    assert json.loads(installed.read_text())["key"] == SECRET
    assert installed.stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON (JSONDecodeError: "),
        (json.dumps({"username": "ada"}), 'needs "username" and "key" entries'),
    ],
)
def test_malformed_kaggle_json_is_one_line_and_the_chain_goes_on(
    nb, clean_home, tmp_path, capsys, content, problem
):
    (clean_home / ".kaggle").mkdir()
    (clean_home / ".kaggle" / "kaggle.json").write_text(content)
    with pytest.raises(nb.DataSourceError, match="kaggle.json " + problem.replace("(", r"\(")):
        nb.find_kaggle_credentials()
    nb.get_data(tmp_path / "data", "digit-recognizer")
    out = capsys.readouterr().out
    assert f"Kaggle: skipped, {clean_home / '.kaggle' / 'kaggle.json'} " in out
    assert "Traceback" not in out


def test_colab_secret_is_used_without_printing_it(nb, clean_home, monkeypatch, capsys):
    monkeypatch.setattr(nb, "read_colab_secret", lambda name: SECRET if name == "KAGGLE_API_TOKEN" else None)
    assert nb.find_kaggle_credentials() == "the Colab secret KAGGLE_API_TOKEN"
    assert os.environ["KAGGLE_API_TOKEN"] == SECRET
    assert SECRET not in capsys.readouterr().out
