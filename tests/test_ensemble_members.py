"""Ensemble members: each learns from its own bag of digits, and is reused only when its recipe matches."""

import json

import numpy as np
import pytest

AUGMENTATION = {"degrees": 15, "zoom": 0.15, "shift": 0.1, "stroke_width_rate": 0.25}
SETTINGS = {
    "epochs": 30,
    "batch_size": 128,
    "learning_rate": 2e-3,
    "patience": 5,
    "augmentation": AUGMENTATION,
    "ema_momentum": 0.999,
}


@pytest.fixture(scope="module")
def split(nb, real_digits):
    pixels, labels = real_digits
    return nb.split_for_training(pixels, labels, 0.1, 0)


def test_architecture_fingerprint_ignores_names_and_weights_but_not_layers(nb):
    first, second = nb.build_cnn("a"), nb.build_cnn("b")  # other layer names, other random weights
    assert nb.architecture_fingerprint(first) == nb.architecture_fingerprint(second)
    assert nb.architecture_fingerprint(first) != nb.architecture_fingerprint(nb.build_cnn("c", width=1.5))
    assert nb.architecture_fingerprint(first) != nb.architecture_fingerprint(nb.build_tuned_mlp())


def test_recipe_changes_with_the_split_the_settings_and_the_bag_fraction(nb, real_digits, split):
    _, x_val, _, y_val = split
    recipe = nb.member_recipe(x_val, y_val, SETTINGS, 0.9)
    assert recipe == nb.member_recipe(x_val, y_val, dict(SETTINGS), 0.9)
    pixels, labels = real_digits
    _, other_val, _, other_y = nb.split_for_training(pixels, labels, 0.1, 1)
    assert nb.member_recipe(other_val, other_y, SETTINGS, 0.9)["split"] != recipe["split"]
    assert nb.member_recipe(x_val, y_val, SETTINGS | {"epochs": 45}, 0.9) != recipe
    assert nb.member_recipe(x_val, y_val, SETTINGS, 0.8) != recipe
    rotated = SETTINGS | {"augmentation": AUGMENTATION | {"degrees": 10}}
    assert nb.member_recipe(x_val, y_val, rotated, 0.9) != recipe
    assert nb.member_recipe(x_val, y_val, SETTINGS | {"ema_momentum": 0}, 0.9) != recipe


def test_bags_are_distinct_shares_without_repeats_and_repeatable_per_seed(nb):
    first, second = nb.bag_indices(1000, 0.9, 43), nb.bag_indices(1000, 0.9, 44)
    assert len(first) == len(np.unique(first)) == 900 and first.max() < 1000
    np.testing.assert_array_equal(first, nb.bag_indices(1000, 0.9, 43))
    left_out = set(range(1000)) - set(first.tolist())
    assert left_out != set(range(1000)) - set(second.tolist())


def save_untrained_member(nb, folder, seed: int, recipe: dict):
    """An untrained CNN of the notebook's design saved as member `seed`, with its record."""
    nb.keras.utils.set_random_seed(seed)
    model = nb.build_cnn(f"cnn_seed{seed}")
    nb.save_member(model, recipe | {"seed": seed, "epochs": 1, "train_seconds": 1.5}, folder)
    return model


@pytest.mark.slow
def test_members_with_this_recipe_are_loaded_and_the_rest_reported_missing(nb, tmp_path, split, capsys):
    _, x_val, _, y_val = split
    recipe = nb.member_recipe(x_val, y_val, SETTINGS, 0.9)
    saved = save_untrained_member(nb, tmp_path, 43, recipe)
    save_untrained_member(nb, tmp_path, 45, recipe | {"split": "0" * 16})  # another split: never used
    members, infos, missing = nb.load_members(tmp_path, recipe, [43, 44, 45])
    assert missing == [44, 45]
    assert [info["seed"] for info in infos] == [43]
    assert "cnn_seed45.keras was trained on another split or with other settings" in capsys.readouterr().out
    np.testing.assert_allclose(
        members[0].predict(x_val, verbose=0), saved.predict(x_val, verbose=0), atol=1e-6
    )
    assert json.loads((tmp_path / "cnn_seed43.json").read_text())["bag_fraction"] == 0.9


def test_a_member_trains_on_its_bag_only(nb, split, monkeypatch):
    x_train, x_val, y_train, y_val = split
    seen = {}

    def fake_train_cnn(seed, x, y, x_watch, y_watch, *args, **kwargs):
        seen["rows"] = {row.tobytes() for row in x}
        seen["watched"] = {row.tobytes() for row in x_watch}
        model = nb.build_cnn(args[-1] if args else "cnn")
        return model, type("History", (), {"epoch": [0, 1]})(), 2.0

    monkeypatch.setattr(nb, "train_cnn", fake_train_cnn)
    recipe = nb.member_recipe(x_val, y_val, SETTINGS, 0.5)
    _, info = nb.train_member(7, x_train, y_train, x_val, y_val, SETTINGS, 0.5, recipe)
    bag = nb.bag_indices(len(x_train), 0.5, 7)
    assert seen["rows"] == {x_train[i].tobytes() for i in bag}
    assert not seen["rows"] & seen["watched"]  # its log watches the training digits out of its bag
    assert seen["rows"] | seen["watched"] == {row.tobytes() for row in x_train}
    assert len(seen["rows"]) < len({row.tobytes() for row in x_train})
    assert info["seed"] == 7 and info["epochs"] == 2 and {k: info[k] for k in recipe} == recipe
    assert info["out_of_bag_digits"] == len(x_train) - len(bag)


def test_distilled_recipe_names_the_teachers(nb, split):
    _, x_val, _, y_val = split
    recipe = nb.member_recipe(x_val, y_val, SETTINGS, 0.9)
    distill = nb.distilled_recipe(recipe, [{"seed": 44}, {"seed": 43}], 0.7)
    assert distill["teacher_seeds"] == [43, 44] and distill["distill_weight"] == 0.7
    assert nb.distilled_recipe(recipe, [{"seed": 43}], 0.7) != distill


@pytest.mark.slow
def test_ensemble_averages_its_members(nb, split):
    _, x_val, _, _ = split
    members = [nb.build_cnn(f"m{i}") for i in range(3)]
    expected = np.mean([m.predict(x_val[:50], verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(nb.build_ensemble(members).predict(x_val[:50], verbose=0), expected, atol=1e-5)


def test_shifted_predictions_average_five_views(nb):
    class Recorder:
        def __init__(self):
            self.views = []

        def predict(self, x, batch_size, verbose):
            self.views.append(x.copy())
            return np.eye(10, dtype=np.float32)[np.full(len(x), len(self.views) % 10)]

    image = np.zeros((1, 784), np.float32)
    image[0, 14 * 28 + 14] = 1.0
    recorder = Recorder()
    probabilities = nb.predict_shifted(recorder, image, 1)
    bright = sorted(
        np.unravel_index(view.argmax(), (28, 28)) for view in [v.reshape(28, 28) for v in recorder.views]
    )
    assert bright == [(13, 14), (14, 13), (14, 14), (14, 15), (15, 14)]
    np.testing.assert_allclose(probabilities.sum(), 1.0)
    assert probabilities[0].max() == pytest.approx(0.2)
    assert nb.predict_shifted(Recorder(), image, 0).max() == 1.0  # 0: only the image as it is
