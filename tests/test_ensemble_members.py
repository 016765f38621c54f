"""Ensemble members trained ahead of time are reused only when split, architecture and settings all match."""

import json
import types

import numpy as np


def tiny_training(nb, calls: list[int]):
    """A stand-in for train_cnn: a small untrained CNN of the notebook's architecture, counted per call."""

    def train(seed: int):
        calls.append(seed)
        nb.keras.utils.set_random_seed(seed)
        model = nb.build_cnn(2e-3, name=f"cnn_seed{seed}")
        return model, types.SimpleNamespace(history={"loss": [1.0, 0.5]}), 1.5

    return train


def test_architecture_fingerprint_ignores_names_and_weights_but_not_layers(nb):
    first = nb.build_cnn(1e-3, name="a")
    second = nb.build_cnn(2e-3, name="b")  # other layer names (Keras counts them), other random weights
    assert nb.architecture_fingerprint(first) == nb.architecture_fingerprint(second)
    other = nb.build_tuned_mlp(1e-3)
    assert nb.architecture_fingerprint(first) != nb.architecture_fingerprint(other)


def test_recipe_names_split_architecture_and_settings(nb, real_digits):
    pixels, labels = real_digits
    _, x_val, _, y_val = nb.split_for_training(pixels, labels, 0.1, 0)
    recipe = nb.cnn_recipe(x_val, y_val, 30, 128, 2e-3)
    assert recipe == nb.cnn_recipe(x_val, y_val, 30, 128, 2e-3)
    assert set(recipe) == {"split", "architecture", "epochs_planned", "batch_size", "learning_rate"}
    _, other_val, _, other_y = nb.split_for_training(pixels, labels, 0.1, 1)
    assert nb.cnn_recipe(other_val, other_y, 30, 128, 2e-3)["split"] != recipe["split"]


def test_member_is_trained_once_then_loaded(nb, tmp_path, real_digits):
    pixels, labels = real_digits
    _, x_val, _, y_val = nb.split_for_training(pixels, labels, 0.1, 0)
    recipe, calls = nb.cnn_recipe(x_val, y_val, 30, 128, 2e-3), []
    trained, info = nb.load_or_train_member(43, tmp_path, recipe, tiny_training(nb, calls))
    assert calls == [43]
    saved = json.loads((tmp_path / "cnn_seed43.json").read_text())
    assert saved == info and {key: saved[key] for key in recipe} == recipe
    assert saved["epochs"] == 2 and saved["train_seconds"] == 1.5 and saved["seed"] == 43

    loaded, loaded_info = nb.load_or_train_member(43, tmp_path, recipe, tiny_training(nb, calls))
    assert calls == [43], "a member with the same recipe must be loaded, not trained again"
    assert loaded_info == info
    np.testing.assert_allclose(loaded.predict(x_val, verbose=0), trained.predict(x_val, verbose=0), atol=1e-6)


def test_member_with_another_architecture_or_split_is_trained_again(nb, tmp_path, real_digits, capsys):
    pixels, labels = real_digits
    _, x_val, _, y_val = nb.split_for_training(pixels, labels, 0.1, 0)
    recipe, calls = nb.cnn_recipe(x_val, y_val, 30, 128, 2e-3), []
    nb.load_or_train_member(44, tmp_path, recipe, tiny_training(nb, calls))
    for changed in ({"architecture": "0" * 16}, {"split": "1" * 16}, {"epochs_planned": 1}):
        nb.load_or_train_member(44, tmp_path, recipe | changed, tiny_training(nb, calls))
        assert "trained on another split or with other settings: training it again" in capsys.readouterr().out
    assert calls == [44, 44, 44, 44]
    assert json.loads((tmp_path / "cnn_seed44.json").read_text())["epochs_planned"] == 1
