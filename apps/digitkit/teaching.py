"""Teach the model your handwriting: your drawings with the digit each one is, used from the next drawing on.

MNIST's writers are mostly American: a 1 with a flag, a crossed 7 or an open 4 may be misread or refused
however well the model scores on MNIST. The user's examples become extra points of their digit's cluster
in the model's feature space (the space of the digit check, novelty.py): a drawing that lies nearer to one
of them (or to its copies turned a little each way) than TAUGHT_RATIO of its distance to the nearest mean
of another digit is read as that example's digit (novelty.read_by_points, as near a writing style's
prototype), and the digit check accepts whatever lies near an example as it does near a digit's mean. The
model itself is not changed, so undoing or forgetting an example undoes its effect exactly.

Chosen by measurement on the tuning seeds (benchmarks/bench_teaching.py): this prototype memory beat a
short fine-tuning of the last layer on the examples mixed with MNIST digits, and needs no MNIST digits.

Use: `examples = TaughtExamples().add(prediction.model_input, 1)`, then
`prediction, example = predict_with_examples(model, drawing, check, examples)`; `examples.to_bytes()` and
`TaughtExamples.from_bytes(data, name)` keep them in a file (`save`, `load` on disk).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Self

import cv2
import numpy as np

from digitkit.files import write_atomically
from digitkit.models import CLASS_COUNT
from digitkit.novelty import (
    DigitClusters,
    combined,
    features_and_probabilities,
    nearest_combined,
    read_by_points,
    squared_distances,
)
from digitkit.prediction import UNSURE_THRESHOLD, Prediction, predict_drawing, prediction_from
from digitkit.preprocess import FIELD_SIZE, to_model_input_image

if TYPE_CHECKING:
    import keras

    from digitkit.novelty import DigitCheck

# At most this many examples are kept: each drawing is compared with all of them. bench_teaching.py's timing
# (2 busy cores): one drawing with 200 examples took 24 ms with the CNN but 160 ms with the ensemble of 8
# (before the check's distances were whitened once); with 50 of one digit (150 points and 3,675 halfway
# between them), see the README.
MAX_EXAMPLES = 50
FILE_KIND = "digit-teaching-examples/1"  # written in every file, checked when one is read
# Each example is also a point turned by these angles (degrees, about the field's centre): one writer's
# digits lean a little differently from one drawing to the next ...
EXAMPLE_TURNS = (-12.0, 12.0)
# ... and a drawing nearer to one of the points than this share of its distance to the nearest digit's mean
# is read as the example's digit (novelty.read_by_points). Tuning seeds, 1s with a flag as a style nobody
# foresaw, 8 sets of 3 examples at each of 3 pens (bench_teaching.py --ratios, --no-turns; see the README):
# without turns, 0.8 read 93% of new ones right (the ensemble); with them, 0.8 read 96% but a set of 5
# examples turned 3 of the 2,100 validation 7s into 1s (0.14 points, over issue 25's 0.1); 0.75 read 95-96%
# and cost at most 1 validation digit; 0.7, 92-94%.
TAUGHT_RATIO = 0.75
POINTS_PER_EXAMPLE = 1 + len(EXAMPLE_TURNS)
# A point halfway between each two examples of one digit (at the same turn), in the feature space: a writer's
# flag or bar varies in length and angle from one drawing to the next, and what lies between two of their
# examples is theirs too. Tuning seeds, 1s with a flag as a style nobody foresaw, 8 sets (bench_teaching.py
# --no-halfway): after 3 examples the ensemble read 95.4% -> 96.2% right, the CNN 96.5% -> 97.3%, at most 1
# validation digit lower either way (2 for the CNN after 5). Costs no pass through the network: the distance
# to a halfway point follows from those to its two ends (halfway_squares).
HALFWAY = True
NEEDS_CHECK = "Teaching needs the model's digit check (its feature statistics): pick another model."


class TeachingFileError(ValueError):
    """A file of taught examples that cannot be read: the message names the file and what is wrong."""


@dataclass(frozen=True)
class TaughtExamples:
    """The user's examples: each one the 28x28 input the model saw and the digit the user said it is.

    Immutable: add, undo and forget give new examples, so a page can keep them and undo is exact. The
    model inputs, not features, are kept: the examples work with every model, and the file with any.
    """

    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, FIELD_SIZE, FIELD_SIZE), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # the examples' features per model view, computed once (the examples never change): {id: (view, features)}
    _features: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, model_input: np.ndarray, digit: int) -> Self:
        """These examples and one more: `model_input` (28x28 in [0, 1], as Prediction.model_input) is `digit`."""
        if not 0 <= int(digit) < CLASS_COUNT:
            raise ValueError(f"a taught digit is 0 to 9, not {digit}")
        if len(self) >= MAX_EXAMPLES:
            raise ValueError(f"at most {MAX_EXAMPLES} examples are kept: undo or forget some first")
        image = np.asarray(model_input, np.float32).reshape(1, FIELD_SIZE, FIELD_SIZE)
        return TaughtExamples(np.concatenate([self.inputs, image]), np.append(self.labels, np.int64(digit)))

    @property
    def points(self) -> np.ndarray:
        """The inputs that stand for the examples, (len * POINTS_PER_EXAMPLE, 28, 28): each example as
        taught, then turned by each of EXAMPLE_TURNS."""
        centre = (FIELD_SIZE - 1) / 2
        turns = [cv2.getRotationMatrix2D((centre, centre), angle, 1.0) for angle in EXAMPLE_TURNS]
        points = [
            [image] + [cv2.warpAffine(image, turn, (FIELD_SIZE, FIELD_SIZE)) for turn in turns]
            for image in self.inputs
        ]
        return np.asarray(points, np.float32).reshape(-1, FIELD_SIZE, FIELD_SIZE)

    @property
    def point_labels(self) -> np.ndarray:
        """The digit of each of the points (not of the halfway points: see `halfway`)."""
        return np.repeat(self.labels, POINTS_PER_EXAMPLE)

    @property
    def halfway(self) -> tuple[np.ndarray, np.ndarray]:
        """The points with a point halfway between them (HALFWAY): two index arrays into the points, each pair
        two examples of one digit at the same turn; empty when HALFWAY is off."""
        first, second = np.triu_indices(len(self), 1)
        same = self.labels[first] == self.labels[second] if HALFWAY else np.zeros(len(first), bool)
        turn = np.arange(POINTS_PER_EXAMPLE)
        return (
            (first[same, None] * POINTS_PER_EXAMPLE + turn).ravel(),
            (second[same, None] * POINTS_PER_EXAMPLE + turn).ravel(),
        )

    def examples_of(self, point: int) -> tuple[int, ...]:
        """The example a point stands for, or the two a halfway point lies between (`point`: an index into
        the points, then the halfway points, as answers_with_examples gives it)."""
        own = len(self) * POINTS_PER_EXAMPLE
        if point < own:
            return (point // POINTS_PER_EXAMPLE,)
        first, second = self.halfway
        return (int(first[point - own]) // POINTS_PER_EXAMPLE, int(second[point - own]) // POINTS_PER_EXAMPLE)

    def features(self, view: keras.Model) -> list[np.ndarray]:
        """The points' features in a model's feature view (DigitCheck.view), per layer; computed once."""
        cached = self._features.get(id(view))
        if cached is None or cached[0] is not view:
            points = self.points
            cached = (view, features_and_probabilities(view, points.reshape(len(points), FIELD_SIZE**2))[0])
            self._features[id(view)] = cached
        return cached[1]

    def without(self, index: int) -> Self:
        """These examples without the one at `index`."""
        keep = np.arange(len(self)) != index
        return TaughtExamples(self.inputs[keep], self.labels[keep])

    def undo(self) -> Self:
        """These examples without the last one added (the same, empty, when there are none)."""
        return self.without(len(self) - 1) if len(self) else self

    def counts(self) -> dict[int, int]:
        """How many examples of each digit there are, for the digits taught: {1: 3, 7: 1}."""
        digits, counts = np.unique(self.labels, return_counts=True)
        return {int(d): int(c) for d, c in zip(digits, counts, strict=True)}

    @property
    def summary(self) -> str:
        """The count in words: "no examples", or "4 examples (1: 3, 7: 1)"."""
        if not len(self):
            return "no examples"
        each = ", ".join(f"{digit}: {count}" for digit, count in self.counts().items())
        return f"{len(self)} example{'s' if len(self) > 1 else ''} ({each})"

    def to_bytes(self) -> bytes:
        """The examples as the bytes of a NumPy .npz file (what `from_bytes` and `load` read)."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, kind=np.str_(FILE_KIND), inputs=self.inputs, labels=self.labels)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> Self:
        """The examples in a file's bytes; TeachingFileError, naming the file (`name`), when it is not one."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                kind = str(saved["kind"]) if "kind" in saved.files else ""
                if kind != FILE_KIND:
                    raise TeachingFileError(f"{name}: not a file of taught examples (no {FILE_KIND!r} in it)")
                inputs, labels = saved["inputs"], saved["labels"]
        except TeachingFileError:
            raise
        except (
            Exception
        ) as error:  # not a zip, cut short, a missing array: numpy and zipfile raise many types
            raise TeachingFileError(
                f"{name}: not a file of taught examples ({type(error).__name__})"
            ) from error
        return cls(*_checked(inputs, labels, name))

    def save(self, path: str | Path) -> Path:
        """Write the examples to `path` atomically (the old file stays whole if the write fails)."""
        return write_atomically(path, lambda temporary: temporary.write_bytes(self.to_bytes()))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """The examples saved in `path`; TeachingFileError naming it when it is missing or not such a file."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise TeachingFileError(f"{path}: cannot be read ({error.strerror or error})") from error
        return cls.from_bytes(data, str(path))


def _checked(inputs: np.ndarray, labels: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A file's arrays as examples, or TeachingFileError saying which part of the file `name` is wrong."""
    if inputs.ndim != 3 or inputs.shape[1:] != (FIELD_SIZE, FIELD_SIZE) or inputs.dtype.kind != "f":
        raise TeachingFileError(
            f"{name}: the examples are not 28x28 images (found {inputs.dtype} {inputs.shape})"
        )
    if labels.shape != (len(inputs),) or labels.dtype.kind not in "iu":
        raise TeachingFileError(
            f"{name}: the labels are not {len(inputs)} whole numbers (found {labels.dtype} {labels.shape})"
        )
    if len(labels) > MAX_EXAMPLES:
        raise TeachingFileError(f"{name}: {len(labels)} examples, more than the {MAX_EXAMPLES} kept")
    if not np.isfinite(inputs).all() or inputs.min(initial=0) < 0 or inputs.max(initial=0) > 1:
        raise TeachingFileError(f"{name}: the examples' pixels are not all between 0 and 1")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= CLASS_COUNT:
        raise TeachingFileError(f"{name}: a label is not a digit from 0 to 9")
    return inputs.astype(np.float32), labels.astype(np.int64)


def combined_distances(
    clusters: DigitClusters, features: list[np.ndarray], points: list[np.ndarray]
) -> np.ndarray:
    """The distance (N, K) from each input to each point, both given per feature layer, as the digit check
    measures it: the root mean square over the layers of the Mahalanobis distance over the layer's scale."""
    return combined(list(map(squared_distances, clusters.whiten(features), clusters.whiten(points))))


def halfway_squares(to_points: np.ndarray, between: np.ndarray, halfway: tuple[np.ndarray, np.ndarray]):
    """The squared distances (N, H) from each input to the point halfway between each pair of points, from
    those to the points (N, P) and between them (P, P): |x - (a + b)/2|^2 = (|x - a|^2 + |x - b|^2)/2 - |a - b|^2/4."""
    first, second = halfway
    squares = (to_points[:, first] + to_points[:, second]) / 2 - between[first, second] / 4
    return np.maximum(squares, 0.0)


def answers_with_examples(
    clusters: DigitClusters,
    features: list[np.ndarray],
    probabilities: np.ndarray,
    example_features: list[np.ndarray],
    labels: np.ndarray,
    halfway: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The taught answers for inputs whose features (per layer) and model probabilities are given, with
    the examples' points (TaughtExamples.features and point_labels) and the pairs of them with a point
    halfway between (TaughtExamples.halfway; None: none): (probabilities (N, 10), is_digit (N,), the point
    each answer comes from (N,): an index into the points then the halfway points, -1 for none).

    The points are read as the check's styles are (novelty.read_by_points): an input nearer to a point
    than TAUGHT_RATIO of its distance to the nearest mean of another digit gets the point's digit
    (probability 1; of two as near, the one taught last), over what a style's prototype reads; the digit
    check counts every point as one near which digits lie.
    """
    inputs, points = clusters.whiten(features), clusters.whiten(example_features)
    to_means = clusters.squares(inputs)  # per layer (N, K)
    to_each_example = list(map(squared_distances, inputs, points))  # per layer (N, P)
    labels = np.asarray(labels, np.int64)
    if halfway is not None and len(halfway[0]):
        to_each_example = [
            np.concatenate([to, halfway_squares(to, squared_distances(p, p), halfway)], axis=1)
            for to, p in zip(to_each_example, points, strict=True)
        ]
        labels = np.concatenate([labels, labels[halfway[0]]])
    means = combined(to_means)
    answered = clusters.read_styles(means, probabilities)
    answered, example = read_by_points(
        answered, means[:, :CLASS_COUNT], combined(to_each_example), labels, TAUGHT_RATIO
    )
    # the digit check with each example as one more mean (novelty.with_prototypes)
    distances = nearest_combined(
        [np.concatenate(pair, axis=1) for pair in zip(to_means, to_each_example, strict=True)]
    )
    return answered, distances <= clusters.threshold, example


def predict_with_examples(
    model: keras.Model,
    drawing: np.ndarray,
    check: DigitCheck | None,
    examples: TaughtExamples,
    threshold: float = UNSURE_THRESHOLD,
) -> tuple[Prediction, tuple[int, ...] | None]:
    """The prediction for a drawing (white ink on black) using the taught examples, and the index of the
    example its answer comes from, or of the two it lies halfway between (None: the model's own answer).
    Without examples, or without a digit check (whose feature space the examples live in), it is
    predict_drawing's.

    Raises digitkit.preprocess.EmptyImageError when the drawing holds no ink.
    """
    if check is None or not len(examples):
        return predict_drawing(model, drawing, check, threshold), None
    model_input = to_model_input_image(drawing, invert=False)
    features, probabilities = features_and_probabilities(check.view, model_input.reshape(1, -1))
    answered, is_digit, point = answers_with_examples(
        check.clusters,
        features,
        probabilities,
        examples.features(check.view),
        examples.point_labels,
        examples.halfway,
    )
    prediction = prediction_from(answered[0], model_input, threshold, is_digit=bool(is_digit[0]))
    return prediction, (examples.examples_of(int(point[0])) if point[0] >= 0 else None)


def from_example_words(examples: TaughtExamples, which: tuple[int, ...]) -> str:
    """Why a drawing got its answer from taught examples (`which`: the example, or the two it lies halfway
    between, as predict_with_examples gives them), in the words both apps show."""
    if len(which) == 1:
        near = f"nearer to your example {which[0] + 1} (a {examples.labels[which[0]]})"
    else:
        first, second = which
        near = f"nearer to what lies between your examples {first + 1} and {second + 1} (both {examples.labels[first]}s)"
    return f"Read from your examples: this drawing is {near} than to any other digit the model learned."
