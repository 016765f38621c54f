"""Teaching the model your handwriting (digitkit.teaching): examples kept, undone, saved, and used."""

from __future__ import annotations

import io

import numpy as np
import pytest
from digitkit import teaching
from digitkit.marks import slant
from digitkit.models import DEFAULT_MODEL_DIR, load_model
from digitkit.novelty import Clusters, DigitClusters, features_and_probabilities
from digitkit.prediction import Status, predict_drawing
from digitkit.preprocess import to_model_input_image
from digitkit.teaching import (
    EXAMPLE_TURNS,
    FILE_KIND,
    POINTS_PER_EXAMPLE,
    TaughtExamples,
    TeachingFileError,
    answers_with_examples,
    combined_distances,
    predict_with_examples,
)
from testdata.synthetic import non_digit_drawing
from testdata.writers import style_drawing

FLAG = "1 with a flag"


@pytest.fixture(scope="module")
def cnn():
    """The committed CNN (the model of the cnn_digit_check fixture)."""
    return load_model(DEFAULT_MODEL_DIR / "cnn.keras")


def field(seed: int, style: str = FLAG) -> np.ndarray:
    """The 28x28 model input of a drawing of the style."""
    return to_model_input_image(style_drawing(style, seed), invert=False)


def test_examples_are_added_counted_and_undone_last_first():
    examples = TaughtExamples().add(field(0), 1).add(field(1), 1).add(field(2), 7)
    assert len(examples) == 3 and examples.counts() == {1: 2, 7: 1}
    assert examples.summary == "3 examples (1: 2, 7: 1)"
    undone = examples.undo()
    assert undone.counts() == {1: 2} and np.array_equal(undone.inputs, examples.inputs[:2])
    assert len(examples) == 3  # immutable: undo gives new examples
    assert TaughtExamples().undo().summary == "no examples"
    assert TaughtExamples().add(field(0), 4).summary == "1 example (4: 1)"


@pytest.mark.parametrize("digit", [-1, 10])
def test_only_digits_can_be_taught(digit):
    with pytest.raises(ValueError, match="0 to 9"):
        TaughtExamples().add(field(0), digit)


def test_no_more_than_the_kept_number_of_examples(monkeypatch):
    monkeypatch.setattr(teaching, "MAX_EXAMPLES", 2)
    examples = TaughtExamples().add(field(0), 1).add(field(1), 1)
    with pytest.raises(ValueError, match="at most 2 examples"):
        examples.add(field(2), 1)


def test_examples_survive_their_file(tmp_path):
    examples = TaughtExamples().add(field(0), 1).add(field(3), 7)
    path = examples.save(tmp_path / "mine.npz")
    loaded = TaughtExamples.load(path)
    assert np.array_equal(loaded.inputs, examples.inputs) and np.array_equal(loaded.labels, [1, 7])
    assert [p.name for p in tmp_path.iterdir()] == ["mine.npz"]  # no temporary file left
    again = TaughtExamples.from_bytes(examples.to_bytes(), "upload.npz")
    assert np.array_equal(again.inputs, examples.inputs)
    assert len(TaughtExamples.from_bytes(TaughtExamples().to_bytes(), "empty.npz")) == 0


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD = {"kind": np.str_(FILE_KIND), "inputs": np.zeros((2, 28, 28), np.float32), "labels": np.array([1, 7])}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a file of taught examples"),
        (b"my notes, not examples", "not a file of taught examples"),
        (TaughtExamples().add(field(0), 1).to_bytes()[:200], "not a file of taught examples"),
        (npz(inputs=GOOD["inputs"], labels=GOOD["labels"]), "not a file of taught examples"),
        (npz(**(GOOD | {"kind": np.str_("something/else")})), "not a file of taught examples"),
        (npz(**(GOOD | {"inputs": np.zeros((2, 20, 20), np.float32)})), "not 28x28 images"),
        (npz(**(GOOD | {"labels": np.array([1])})), "labels are not 2 whole numbers"),
        (npz(**(GOOD | {"labels": np.array([1, 12])})), "not a digit from 0 to 9"),
        (npz(**(GOOD | {"inputs": np.full((2, 28, 28), 255, np.float32)})), "between 0 and 1"),
        (npz(**(GOOD | {"inputs": np.full((2, 28, 28), np.nan, np.float32)})), "between 0 and 1"),
        (npz(**(GOOD | {"labels": np.array(["1", "7"])})), "labels are not 2 whole numbers"),
    ],
    ids=[
        "empty",
        "text",
        "cut-short",
        "no-kind",
        "other-kind",
        "wrong-size",
        "too-few-labels",
        "label-12",
        "pixels-0-255",
        "nan",
        "text-labels",
    ],
)
def test_a_bad_examples_file_is_one_line_naming_it(data, message):
    with pytest.raises(TeachingFileError) as error:
        TaughtExamples.from_bytes(data, "my_digits.npz")
    text = str(error.value)
    assert text.startswith("my_digits.npz: ") and message in text and "\n" not in text


def test_a_pickled_examples_file_is_refused_not_run():
    buffer = io.BytesIO()
    np.savez(buffer, kind=np.str_(FILE_KIND), inputs=np.array([object()], dtype=object), labels=np.array([1]))
    with pytest.raises(TeachingFileError, match="my_digits.npz: not a file of taught examples"):
        TaughtExamples.from_bytes(buffer.getvalue(), "my_digits.npz")


def test_a_missing_examples_file_is_named(tmp_path):
    with pytest.raises(TeachingFileError, match="gone.npz: cannot be read"):
        TaughtExamples.load(tmp_path / "gone.npz")
    (tmp_path / "zip.npz").write_bytes(b"PK\x03\x04 a zip cut short")
    with pytest.raises(TeachingFileError, match="zip.npz: not a file of taught examples"):
        TaughtExamples.load(tmp_path / "zip.npz")


def test_distances_are_the_digit_checks_own(cnn_digit_check):
    # one point per layer: combined_distances is what the check measures to a cluster of that one mean
    clusters = cnn_digit_check.clusters
    features, _ = features_and_probabilities(
        cnn_digit_check.view, np.stack([field(s).ravel() for s in range(5)])
    )
    for digit in (1, 7):
        one_mean = DigitClusters(
            tuple(
                Clusters(layer.means[digit : digit + 1], layer.precision, layer.scale)
                for layer in clusters.layers
            ),
            clusters.threshold,
            clusters.model_sha256,
        )
        points = [layer.means[digit : digit + 1] for layer in clusters.layers]
        np.testing.assert_allclose(
            combined_distances(clusters, features, points)[:, 0], one_mean.distances(features), rtol=1e-6
        )


def test_a_misread_one_with_a_flag_is_read_as_one_once_taught(cnn, unforeseen_cnn_check, flag_seeds):
    model = cnn
    drawing = style_drawing(FLAG, flag_seeds["misread"])
    untaught = predict_drawing(model, drawing, unforeseen_cnn_check)
    assert untaught.headline == "Prediction: 7"
    examples = TaughtExamples().add(field(flag_seeds["taught"]), 1)
    taught, example = predict_with_examples(model, drawing, unforeseen_cnn_check, examples)
    assert taught.headline == "Prediction: 1" and example == (0,)
    # undone, the model's own answer comes back exactly
    again, example = predict_with_examples(model, drawing, unforeseen_cnn_check, examples.undo())
    assert example is None and again.headline == untaught.headline
    np.testing.assert_array_equal(again.probabilities, untaught.probabilities)


def test_the_check_widened_by_the_examples_is_novelty_with_prototypes(unforeseen_cnn_check, flag_seeds):
    from digitkit.novelty import with_prototypes

    examples = TaughtExamples().add(field(flag_seeds["refused"]), 1).add(field(9), 1)
    inputs = np.stack([field(s).ravel() for s in range(10, 40)])
    features, probabilities = features_and_probabilities(unforeseen_cnn_check.view, inputs)
    example_features = examples.features(unforeseen_cnn_check.view)
    _, is_digit, _ = answers_with_examples(
        unforeseen_cnn_check.clusters,
        features,
        probabilities,
        example_features,
        examples.point_labels,
        examples.halfway,
    )
    # the points, and those halfway between the two examples (at each turn), each as one more mean
    first, second = examples.halfway
    assert len(first) == POINTS_PER_EXAMPLE
    points = [np.concatenate([f, (f[first] + f[second]) / 2]) for f in example_features]
    widened = with_prototypes(unforeseen_cnn_check.clusters, points, np.arange(len(points[0])))
    assert list(is_digit) == list(widened.distances(features) <= widened.threshold)


def test_the_same_drawing_taught_again_takes_the_latest_digit(cnn, unforeseen_cnn_check, flag_seeds):
    drawing = style_drawing(FLAG, flag_seeds["misread"])
    examples = TaughtExamples().add(field(flag_seeds["misread"]), 1).add(field(flag_seeds["misread"]), 9)
    taught, example = predict_with_examples(cnn, drawing, unforeseen_cnn_check, examples)
    assert taught.headline == "Prediction: 9" and example == (1,)
    taught, example = predict_with_examples(cnn, drawing, unforeseen_cnn_check, examples.undo())
    assert taught.headline == "Prediction: 1" and example == (0,)


def test_a_refused_drawing_taught_is_accepted(cnn, unforeseen_cnn_check, flag_seeds):
    drawing = style_drawing(FLAG, flag_seeds["refused"])
    assert predict_drawing(cnn, drawing, unforeseen_cnn_check).status is Status.NOT_A_DIGIT
    examples = TaughtExamples().add(field(flag_seeds["refused"]), 1)
    taught, example = predict_with_examples(cnn, drawing, unforeseen_cnn_check, examples)
    assert taught.headline == "Prediction: 1" and example == (0,)


def test_teaching_leaves_real_digits_and_non_digits_as_they_were(cnn_digit_check, real_digits):
    pixels, labels = real_digits
    batch = pixels[::5].astype(np.float32) / 255  # 1,000 real digits, 100 of each
    examples = TaughtExamples().add(field(0), 1).add(field(4), 1).add(field(9), 1)
    glyphs = np.stack(
        [to_model_input_image(non_digit_drawing(g, seed=7), invert=False).ravel() for g in "AK#"]
    )
    features, probabilities = features_and_probabilities(
        cnn_digit_check.view, np.concatenate([batch, glyphs])
    )
    example_features, _ = features_and_probabilities(cnn_digit_check.view, examples.inputs.reshape(3, -1))
    taught, is_digit, source = answers_with_examples(
        cnn_digit_check.clusters, features, probabilities, example_features, examples.labels
    )
    before = probabilities.argmax(axis=1)
    after = taught.argmax(axis=1)
    real = slice(0, len(batch))
    # no real digit read right before is read wrong after (a few may come from the examples, as 1s)
    assert not ((before[real] == labels[::5]) & (after[real] != labels[::5])).any()
    _, untaught_is_digit = cnn_digit_check(glyphs)
    assert list(is_digit[len(batch) :]) == list(untaught_is_digit)  # the letters are still refused (or not)
    assert (source[len(batch) :] == -1).all()


def test_without_examples_or_check_it_is_the_models_own_prediction(cnn, unforeseen_cnn_check, flag_seeds):
    drawing = style_drawing(FLAG, flag_seeds["misread"])
    for check, examples in [
        (unforeseen_cnn_check, TaughtExamples()),
        (None, TaughtExamples().add(field(0), 1)),
    ]:
        prediction, example = predict_with_examples(cnn, drawing, check, examples)
        untaught = predict_drawing(cnn, drawing, check)
        assert example is None and prediction.headline == untaught.headline == "Prediction: 7"
        np.testing.assert_array_equal(prediction.probabilities, untaught.probabilities)


def test_each_example_is_also_a_point_turned_each_way():
    upright = np.zeros((28, 28), np.float32)
    upright[4:24, 13:15] = 1.0  # a 1 standing straight
    examples = TaughtExamples().add(upright, 1).add(np.rot90(upright), 7)
    points = examples.points
    assert points.shape == (2 * POINTS_PER_EXAMPLE, 28, 28) and points.dtype == np.float32
    assert list(examples.point_labels) == [1] * POINTS_PER_EXAMPLE + [7] * POINTS_PER_EXAMPLE
    np.testing.assert_array_equal(points[0], upright)  # the example as taught comes first
    for point, angle in zip(points[1:POINTS_PER_EXAMPLE], EXAMPLE_TURNS, strict=True):
        # a turn by a positive angle is counterclockwise (OpenCV's): the 1 then leans left of upright
        assert abs(slant(point) + angle) < 1 and points.min() >= 0 and points.max() <= 1
        assert abs(point.sum() - upright.sum()) < 0.05 * upright.sum()  # no ink lost at the field's edge


def test_an_example_is_left_out_by_its_index():
    examples = TaughtExamples().add(field(0), 1).add(field(1), 7).add(field(2), 9)
    assert list(examples.without(1).labels) == [1, 9] and list(examples.undo().labels) == [1, 7]
    np.testing.assert_array_equal(examples.without(0).inputs, examples.inputs[1:])


def test_no_examples_have_no_points_and_no_features(unforeseen_cnn_check):
    # the canvas asks for the features after the last example is undone
    examples = TaughtExamples().add(field(0), 1).undo()
    assert examples.points.shape == (0, 28, 28) and examples.point_labels.shape == (0,)
    assert all(len(layer) == 0 for layer in examples.features(unforeseen_cnn_check.view))


def test_points_lie_halfway_between_two_examples_of_one_digit_at_each_turn():
    examples = TaughtExamples().add(field(0), 1).add(field(1), 7).add(field(2), 1)
    first, second = examples.halfway
    turns = np.arange(POINTS_PER_EXAMPLE)
    # only examples 0 and 2 are of one digit: their points at the same turn
    np.testing.assert_array_equal(first, turns)
    np.testing.assert_array_equal(second, 2 * POINTS_PER_EXAMPLE + turns)
    own = 3 * POINTS_PER_EXAMPLE
    assert examples.examples_of(POINTS_PER_EXAMPLE + 1) == (1,)  # example 1 turned
    assert examples.examples_of(own) == (0, 2) and examples.examples_of(own + len(first) - 1) == (0, 2)
    assert TaughtExamples().add(field(0), 1).halfway[0].size == 0


def test_the_distance_to_a_halfway_point_follows_from_those_to_its_ends():
    from digitkit.novelty import squared_distances
    from digitkit.teaching import halfway_squares

    rng = np.random.default_rng(0)
    inputs, points = rng.normal(size=(5, 8)), rng.normal(size=(4, 8))
    pairs = (np.array([0, 1, 0]), np.array([2, 3, 3]))
    halfway = (points[pairs[0]] + points[pairs[1]]) / 2
    np.testing.assert_allclose(
        halfway_squares(squared_distances(inputs, points), squared_distances(points, points), pairs),
        squared_distances(inputs, halfway),
        atol=1e-9,
    )


@pytest.mark.parametrize("halfway", [True, False])
def test_a_drawing_between_two_examples_is_read_by_the_point_halfway(monkeypatch, halfway):
    monkeypatch.setattr(teaching, "HALFWAY", halfway)
    # ten digits' means in 11-D; a drawing between the 1s' and 7s' means (7.1 from each), and two taught 1s
    # 6 either side of it along the 11th axis, each as one point (no turns)
    monkeypatch.setattr(teaching, "POINTS_PER_EXAMPLE", 1)
    means = np.eye(10, 11) * 10
    clusters = DigitClusters((Clusters(means, np.eye(11), 1.0),), threshold=5.0, model_sha256="")
    examples = TaughtExamples().add(field(0), 1).add(field(1), 1)
    drawing = (means[1] + means[7]) / 2
    ends = drawing + np.outer([1, -1], np.eye(11)[10] * 6)
    says_seven = np.eye(10, dtype=np.float32)[[7]]
    read, is_digit, point = answers_with_examples(
        clusters, [drawing[None]], says_seven, [ends], examples.point_labels, examples.halfway
    )
    if halfway:  # on the halfway point: a 1
        assert read[0].argmax() == 1 and examples.examples_of(int(point[0])) == (0, 1) and is_digit[0]
    else:  # 6 from each end, over 0.75 of the 7.1 to the 7s' mean: the model's 7
        np.testing.assert_array_equal(read, says_seven)
        assert point[0] == -1


def test_the_words_name_the_example_or_the_two_an_answer_comes_from():
    from digitkit.teaching import from_example_words

    examples = TaughtExamples().add(field(0), 1).add(field(1), 7).add(field(2), 1)
    assert "nearer to your example 2 (a 7) than to any other digit" in from_example_words(examples, (1,))
    assert "between your examples 1 and 3 (both 1s) than to any other digit" in from_example_words(
        examples, (0, 2)
    )
