"""Finding, loading and calling the saved models, and the clear errors for bad model files."""

import shutil

import digitkit
import keras
import numpy as np
import pytest
from digit_images import mnist_digits
from digitkit import MODEL_NAMES, ModelLoadError, available_models, load_model, predict_proba

FOUND = available_models()


@pytest.fixture(scope="module")
def real_inputs() -> tuple[np.ndarray, np.ndarray]:
    """1,000 real MNIST digits as model inputs (every fifth of the 5,000), and their labels."""
    images, labels = mnist_digits()
    return images[::5].reshape(-1, 784).astype(np.float32) / 255, labels[::5]


@pytest.fixture(scope="module")
def best_model() -> keras.Model:
    assert FOUND, f"no model in {digitkit.DEFAULT_MODEL_DIR}"
    return load_model(next(iter(FOUND.values())))


def test_model_names_are_best_first():
    assert MODEL_NAMES == ("ensemble", "cnn", "mlp")


def test_the_committed_models_are_found_best_first():
    assert "mlp" in FOUND, f"models/mlp.keras is missing from {digitkit.DEFAULT_MODEL_DIR}"
    assert list(FOUND) == [name for name in MODEL_NAMES if name in FOUND]
    assert all(path.is_file() and path.parent == digitkit.DEFAULT_MODEL_DIR for path in FOUND.values())


def test_available_models_lists_only_existing_files(tmp_path):
    assert available_models(tmp_path) == {}
    (tmp_path / "mlp.keras").write_bytes(b"x")
    (tmp_path / "ensemble.keras").write_bytes(b"x")
    (tmp_path / "notes.keras").write_bytes(b"x")
    assert available_models(str(tmp_path)) == {
        "ensemble": tmp_path / "ensemble.keras",
        "mlp": tmp_path / "mlp.keras",
    }


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


def test_truncated_model_file_is_refused(tmp_path):
    whole = next(iter(FOUND.values())).read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelLoadError, match=f"^{cut}: not a readable Keras model"):
        load_model(cut)


def test_model_of_another_shape_is_refused(tmp_path):
    images_model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / "images.keras"
    images_model.save(path)
    with pytest.raises(ModelLoadError, match=r"expected input \(None, 784\) and output \(None, 10\)"):
        load_model(path)


def test_copied_model_loads_from_anywhere(tmp_path):
    copy = tmp_path / "copy.keras"
    shutil.copy(next(iter(FOUND.values())), copy)
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
