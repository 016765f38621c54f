"""Finding, loading and calling the saved models, and the clear errors for bad model files."""

import shutil
import time
from pathlib import Path

import digitkit
import keras
import numpy as np
import pytest
from digitkit import (
    MODEL_DIR_VARIABLE,
    ModelLoadError,
    available_models,
    load_model,
    model_dir,
    predict_proba,
)
from digitkit.models import model_version
from digitkit.quiet_keras import is_start_up_chatter
from testdata.mnist import mnist_digits

FOUND = available_models(digitkit.DEFAULT_MODEL_DIR)


@pytest.fixture(scope="module")
def real_inputs() -> tuple[np.ndarray, np.ndarray]:
    """1,000 real MNIST digits as model inputs (every fifth of the 5,000), and their labels."""
    images, labels = mnist_digits()
    return images[::5].reshape(-1, 784).astype(np.float32) / 255, labels[::5]


def test_the_committed_models_are_found_best_first():
    assert list(FOUND) == ["ensemble", "distilled", "cnn", "mlp"], (
        f"missing from {digitkit.DEFAULT_MODEL_DIR}"
    )
    assert FOUND["ensemble"] == digitkit.DEFAULT_MODEL_DIR / "ensemble"
    assert all(path.is_file() for name, path in FOUND.items() if name != "ensemble")


def test_available_models_lists_only_existing_models_best_first(tmp_path):
    assert available_models(tmp_path) == {}
    (tmp_path / "ensemble").mkdir()  # an ensemble folder without members is no model
    for name in ("mlp", "notes", "cnn", "distilled", "ensemble"):  # written worst first
        (tmp_path / f"{name}.keras").write_bytes(b"x")
    assert list(available_models(str(tmp_path)).items()) == [
        ("distilled", tmp_path / "distilled.keras"),
        ("cnn", tmp_path / "cnn.keras"),
        ("mlp", tmp_path / "mlp.keras"),
    ]  # ensemble.keras, a file, is not the ensemble
    (tmp_path / "ensemble" / "cnn_seed43.keras").write_bytes(b"x")
    assert list(available_models(tmp_path))[0] == "ensemble"
    assert available_models(tmp_path)["ensemble"] == tmp_path / "ensemble"


@pytest.mark.slow
def test_an_ensemble_folder_is_loaded_as_the_mean_of_its_members(tmp_path, real_inputs):
    folder = tmp_path / "ensemble"
    folder.mkdir()
    members = [digitkit.DEFAULT_MODEL_DIR / name for name in ("cnn.keras", "mlp.keras")]
    for member in members:
        shutil.copy(member, folder / member.name)
    inputs = real_inputs[0][:200]
    expected = np.mean([predict_proba(load_model(member), inputs) for member in members], axis=0)
    np.testing.assert_allclose(predict_proba(load_model(folder), inputs), expected, atol=1e-5)


def test_a_broken_ensemble_member_is_named(tmp_path):
    shutil.copy(digitkit.DEFAULT_MODEL_DIR / "cnn.keras", tmp_path / "a.keras")
    (tmp_path / "b.keras").write_text("not a model")
    with pytest.raises(ModelLoadError, match=rf"^{tmp_path / 'b.keras'}: not a readable Keras model"):
        load_model(tmp_path)


@pytest.mark.parametrize("link", ["to its own folder", "to itself"])
def test_an_ensemble_member_that_links_in_a_loop_is_refused_at_once(tmp_path, link):
    shutil.copy(digitkit.DEFAULT_MODEL_DIR / "mlp.keras", tmp_path / "a.keras")
    loop = tmp_path / "z.keras"
    loop.symlink_to(tmp_path if link == "to its own folder" else loop)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as error:
        load_model(tmp_path)
    assert str(error.value) == f"{loop}: not a model file (a folder, or a link that leads nowhere)"
    assert time.perf_counter() - start < 2  # loaded the folder again and again: 53 s and 1.6 GB
    assert model_version(tmp_path) >= (tmp_path / "a.keras").stat().st_mtime  # a key for caches, no error


def test_a_folder_without_members_is_refused(tmp_path):
    with pytest.raises(
        ModelLoadError, match=rf"^{tmp_path}: no ensemble member \(.keras file\) in this folder$"
    ):
        load_model(tmp_path)


def test_the_model_folder_is_models_unless_digit_model_dir_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_DIR_VARIABLE, raising=False)
    assert model_dir() == digitkit.DEFAULT_MODEL_DIR == Path(digitkit.__file__).parents[2] / "models"
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path))
    (tmp_path / "cnn.keras").write_bytes(b"x")
    assert model_dir() == tmp_path
    assert available_models() == {"cnn": tmp_path / "cnn.keras"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FOUND))
def test_each_model_keeps_the_contract_and_reads_real_digits(name, real_inputs):
    inputs, labels = real_inputs
    model = load_model(FOUND[name])
    probabilities = predict_proba(model, inputs)
    assert probabilities.shape == (len(inputs), 10) and probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert (probabilities.argmax(axis=1) == labels).mean() >= 0.9


def test_single_prediction_matches_the_batch(best_model, real_inputs):
    inputs, _ = real_inputs
    one = predict_proba(best_model, inputs[7])
    assert one.shape == (1, 10)
    assert np.allclose(one[0], predict_proba(best_model, inputs[:10])[7], atol=1e-5)


def test_missing_model_is_named(tmp_path):
    missing = tmp_path / "cnn.keras"
    with pytest.raises(ModelLoadError, match=f"^{missing}: model file not found$"):
        load_model(missing)


def test_text_file_is_not_a_keras_model(tmp_path):
    fake = tmp_path / "mlp.keras"
    fake.write_text("not a model\n")
    with pytest.raises(ModelLoadError, match=f"^{fake}: not a readable Keras model") as caught:
        load_model(fake)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_model_file_is_called_truncated_not_missing(tmp_path, keep):
    whole = FOUND["cnn"].read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(whole[: int(len(whole) * keep)])
    with pytest.raises(ModelLoadError) as caught:
        load_model(cut)
    assert str(caught.value) == f"{cut}: not a readable Keras model (the file is truncated or corrupt)"


def test_model_file_with_damaged_contents_is_called_corrupt(tmp_path):
    whole = bytearray(FOUND["mlp"].read_bytes())
    middle = len(whole) // 2  # inside the weights, which the archive stores uncompressed with a checksum
    whole[middle : middle + 8] = bytes(255 - b for b in whole[middle : middle + 8])
    damaged = tmp_path / "mlp.keras"
    damaged.write_bytes(bytes(whole))
    with pytest.raises(
        ModelLoadError, match=rf"^{damaged}: not a readable Keras model \(the file is corrupt"
    ):
        load_model(damaged)


def test_model_without_softmax_is_refused_in_one_line(tmp_path):
    scores = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])  # raw scores, no softmax
    path = tmp_path / "scores.keras"
    scores.save(path)
    with pytest.raises(ModelLoadError) as caught:
        load_model(path)
    assert str(caught.value) == (
        f"{path}: the model's outputs are not probabilities (rows summing to 1); does its last layer lack a softmax?"
    )


def test_model_of_another_shape_is_refused(tmp_path):
    images_model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / "images.keras"
    images_model.save(path)
    with pytest.raises(ModelLoadError, match=r"expected input \(None, 784\) and output \(None, 10\)"):
        load_model(path)


def test_copied_model_loads_from_anywhere(tmp_path):
    copy = tmp_path / "copy.keras"
    shutil.copy(FOUND["cnn"], copy)
    assert load_model(copy).output_shape == (None, 10)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.zeros((2, 28, 28), np.float32), "shape"),
        (np.zeros((3, 100), np.float32), "shape"),
        (np.full((1, 784), 255, np.uint8), r"\[0, 1\]"),
        (np.full((1, 784), -0.5, np.float32), r"\[0, 1\]"),
        (np.full((1, 784), np.nan, np.float32), r"\[0, 1\]"),
        (np.full((1, 784), "a"), "dtype"),
    ],
    ids=["images", "wrong-width", "0-255", "negative", "nan", "strings"],
)
def test_bad_batches_are_refused(best_model, batch, message):
    with pytest.raises(ValueError, match=message):
        predict_proba(best_model, batch)


def test_empty_batch_gives_no_rows(best_model):
    assert predict_proba(best_model, np.zeros((0, 784), np.float32)).shape == (0, 10)


@pytest.mark.parametrize(
    "line",
    [  # what TensorFlow 2.21 writes on stderr when it starts on a machine without a GPU
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795614797.878116    8085 port.cc:153] oneDNN custom operations are on. You may see"
        " slightly different numerical results due to floating-point round-off errors.",
        "I0000 00:00:1795614797.878499    8085 cudart_stub.cc:31] Could not find cuda drivers on your"
        " machine, GPU will not be used.",
        "E0000 00:00:1795614801.093674    8085 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA"
        " error: Failed call to cuInit: UNKNOWN ERROR (303)",
        "W1125 14:02:11.123456   12345 some/file.cc:7] a warning",
        # ... and TensorFlow 2.20 (Colab's)
        "2026-12-05 05:27:02.391369: E external/local_xla/xla/stream_executor/cuda/cuda_platform.cc:51] failed"
        " call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
        "2026-12-05 04:27:55.558040: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.",
        "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations,"
        " rebuild TensorFlow with the appropriate compiler flags.",
    ],
)
def test_tensorflow_start_up_lines_are_recognised_as_chatter(line):
    assert is_start_up_chatter(line)


@pytest.mark.parametrize(
    "line",
    [
        "opencv_app: models/cnn.keras: model file not found",
        "/path/keras/src/saving.py:12: UserWarning: something a user should see",
        "Traceback (most recent call last):",
        "WARNING: something else",
    ],
)
def test_other_lines_on_stderr_are_kept(line):
    assert not is_start_up_chatter(line)
