"""Tell digits from things that are not digits: a Mahalanobis distance on the model's own features.

A softmax always names a digit, often at 100% for a letter or a smiley. The features a model computes in
its blocks (for the CNN: the 32 and 64 channels of its two convolution blocks, averaged over the image, and
the 128 numbers its classifier sees) fall in ten tight clusters for real digits. The statistics of those
clusters on the training digits (each digit's mean, one covariance shared by the ten, per layer) are fitted
by `scripts/fit_novelty.py` and saved in `models/novelty.npz`, with a threshold on the layers' combined
distance that refuses 1% of the validation digits. An input farther than that is "not a digit". Writers'
styles that MNIST has few of (a 1 with a flag and a base, ...) lie apart from its clusters: the mean
features of drawings of each style are added as extra points to be near (`with_prototypes`), and an input
much nearer to a style's point than to any other digit's mean is read as that style's digit (`read_by_points`:
the softmax reads most 1s with a flag as 7s).
(Measured by benchmarks/bench_not_a_digit.py against the top probability, the energy score and the last
layer alone: the blocks together refuse the most drawings that are not digits.)

Use: `model, check, _ = load_checked_model(path)` (or `check = load_digit_check(model, path)`), then `check(batch)` gives the (N, 10) probabilities
(the model's own) and, for each input, whether it is a digit, in one pass through the model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digitkit.models import (
    CLASS_COUNT,
    DEFAULT_MODEL_DIR,
    _checked_batch,
    load_model,
    member_files,
    padded_batches,
)

if TYPE_CHECKING:
    import keras

NOVELTY_FILE = "novelty.npz"
REFUSED_SHARE = 0.01  # the threshold refuses this share of the validation digits
# An input whose distance to a labelled point (a writing style's prototype) is under this share of its
# distance to the nearest mean of a digit other than the point's own is read as the point's digit
# (read_by_points; the examples a user teaches are points too, with their own ratio, teaching.TAUGHT_RATIO).
# Tuning seeds, the ensemble (bench_writers.py --ratio R), when measured against the nearest mean of any digit:
# style drawings read right 92.9% with the rule off, 98.1% at 0.7, 99.3% at 0.8, 99.5% at 0.9; at 0.8, 2 more
# style photos read exactly and no other photo read differently; at 0.9, one photo with marks before its
# number more read wrong with nothing flagged.
NEARER_RATIO = 0.8
# Measured against the nearest mean of another digit than the point's (True), not of any digit (False): a 1
# with a flag that lies near both a taught 1 and the 1s' mean is a 1 all the more, where the 7s' mean is
# what it must be told from. Tuning seeds, the ensemble: a 1 with a flag as a style nobody foresaw, read
# right after 3 taught examples, 95.0% -> 95.4% (bench_teaching.py --any-digit); the styles' photos and
# drawings read exactly the same either way (bench_writers.py --ablation, its last row).
THAN_OTHER_DIGITS = True


class NoveltyError(RuntimeError):
    """The novelty statistics are missing, unreadable or were fitted for another version of the model."""


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, K): the squared Euclidean distance from each row of `a` (N, D) to each row of `b` (K, D)."""
    squares = np.einsum("nd,nd->n", a, a)[:, None] + np.einsum("kd,kd->k", b, b)[None] - 2 * a @ b.T
    return np.maximum(squares, 0.0)


@dataclass(frozen=True)
class Clusters:
    """Where one layer's features of real digits lie: each digit's mean and the shared precision."""

    means: np.ndarray  # (K, D): each digit's mean (K = 10), then any extra prototypes (with_prototypes)
    precision: np.ndarray  # (D, D): the inverse of the shared covariance
    scale: float  # a typical distance of a training digit (its 99th percentile), to weigh layers alike

    @cached_property
    def root(self) -> np.ndarray:
        """R with R @ R.T = precision: the Mahalanobis distance of x and m is the Euclidean one of
        x @ R and m @ R (computed once; a drawing then costs one product per layer)."""
        values, vectors = np.linalg.eigh(np.asarray(self.precision, np.float64))
        return vectors * np.sqrt(np.maximum(values, 0.0))

    def whiten(self, features: np.ndarray) -> np.ndarray:
        """The features (N, D) where the Mahalanobis distance is the Euclidean one (see `root`)."""
        return np.asarray(features, np.float64) @ self.root

    @cached_property
    def whitened_means(self) -> np.ndarray:
        """The means (K, D), whitened (computed once)."""
        return self.whiten(self.means)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Each row's Mahalanobis distance to the nearest mean (a digit's or a prototype's), shape (N,)."""
        return np.sqrt(squared_distances(self.whiten(features), self.whitened_means).min(axis=1))


@dataclass(frozen=True)
class DigitClusters:
    """The clusters of each of a model's feature layers, and the threshold on their combined distance."""

    layers: tuple[Clusters, ...]
    threshold: float  # combined distances above this are not digits
    model_sha256: str  # the model file these were fitted for
    # the digit of each prototype after the ten digits' means (a style's: a 1 with a flag is a 1); -1, or
    # none given, for a prototype that only widens the check: its inputs are read by the model
    prototype_digits: tuple[int, ...] = ()

    def whiten(self, features: list[np.ndarray]) -> list[np.ndarray]:
        """Per layer, the features where the check's distance over the layer's scale is a Euclidean one."""
        return [layer.whiten(x) / layer.scale for layer, x in zip(self.layers, features, strict=True)]

    def squares(self, whitened: list[np.ndarray]) -> list[np.ndarray]:
        """Per layer, the squared scaled distance (N, K) from each input (`whitened` features) to each mean."""
        return [
            squared_distances(x, layer.whitened_means / layer.scale)
            for layer, x in zip(self.layers, whitened, strict=True)
        ]

    def distances(self, features: list[np.ndarray]) -> np.ndarray:
        """The combined distance of each input (N,): the root mean square of the layers' scaled distances."""
        return nearest_combined(self.squares(self.whiten(features)))

    @property
    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """The prototypes that have a digit: their indices into the means, and their digits."""
        digits = np.asarray(self.prototype_digits, np.int64).reshape(-1)
        which = np.flatnonzero(digits >= 0)
        return CLASS_COUNT + which, digits[which]

    def read_styles(self, to_means: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities with inputs near a style's prototype read as its digit (read_by_points), given
        the combined distances (N, K) to every mean (`combined` of `squares`)."""
        which, digits = self.labelled
        return read_by_points(probabilities, to_means[:, :CLASS_COUNT], to_means[:, which], digits)[0]

    def answers(self, features: list[np.ndarray], probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The probabilities with the styles read (read_styles), and each input's combined distance (N,),
        from one pass over the layers."""
        squares = self.squares(self.whiten(features))
        return self.read_styles(combined(squares), probabilities), nearest_combined(squares)


def combined(squares: list[np.ndarray]) -> np.ndarray:
    """(N, K): the distance from each input to each mean or point as the check combines the layers (the root
    mean square over the layers), from the squared distances of each layer."""
    return np.sqrt(sum(squares) / len(squares))


def nearest_combined(squares: list[np.ndarray]) -> np.ndarray:
    """(N,): each input's distance as the digit check measures it: the root mean square over the layers of
    the squared distance to each layer's nearest mean (or point)."""
    return np.sqrt(sum(s.min(axis=1) for s in squares) / len(squares))


def read_by_points(
    probabilities: np.ndarray,
    to_digits: np.ndarray,
    to_points: np.ndarray,
    digits: np.ndarray,
    ratio: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities (N, 10) where an input nearer to a labelled point than `ratio` (None: NEARER_RATIO)
    of its distance to the nearest mean of a digit other than the point's (THAN_OTHER_DIGITS; else of any
    digit) takes the point's digit at probability 1; of two such points, the one nearest in that measure
    (of two as near, the later). `to_digits` (N, 10): the distances to the ten digits' means; `to_points`
    (N, P): to the points, whose digits are `digits` (P,). Also which point each input was read by, -1 for
    none (the model's own answer)."""
    probabilities = np.array(probabilities, np.float32)
    if not to_points.shape[1]:
        return probabilities, np.full(len(probabilities), -1)
    ratio = NEARER_RATIO if ratio is None else ratio
    digits = np.asarray(digits, np.int64)
    if THAN_OTHER_DIGITS:
        # to the nearest mean of each digit's others: the nearest mean, or for the nearest's digit the second
        order = np.argsort(to_digits, axis=1)[:, :2]
        first, second = np.take_along_axis(to_digits, order, axis=1).T
        others = np.where(np.arange(CLASS_COUNT) == order[:, :1], second[:, None], first[:, None])[:, digits]
    else:
        others = to_digits.min(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # an input on a mean: inf, or nan for 0/0
        shares = np.nan_to_num(to_points / others, nan=np.inf)
    nearest = shares.shape[1] - 1 - shares[:, ::-1].argmin(axis=1)  # on a tie, the later point
    near = shares[np.arange(len(nearest)), nearest] < ratio
    probabilities[near] = np.eye(CLASS_COUNT, dtype=np.float32)[digits[nearest[near]]]
    return probabilities, np.where(near, nearest, -1)


def fit_layer(features: np.ndarray, labels: np.ndarray, ridge: float = 1e-3) -> Clusters:
    """Each digit's mean features, the precision of the covariance they share, and the distances' scale."""
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels).reshape(-1)
    means = np.stack([features[labels == digit].mean(axis=0) for digit in range(10)])
    centred = features - means[labels]
    covariance = centred.T @ centred / len(features)
    covariance += ridge * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    unscaled = Clusters(means, np.linalg.inv(covariance), 1.0)
    scale = float(np.quantile(unscaled.distances(features), 0.99))
    return Clusters(means, unscaled.precision, scale)


def with_prototypes(
    clusters: DigitClusters, features: list[np.ndarray], groups: np.ndarray, digits: np.ndarray | None = None
) -> DigitClusters:
    """The clusters with one more mean per group of inputs (a writing style), in every layer.

    `features` are the inputs' features per layer (as features_and_probabilities gives them), `groups`
    says which group each input belongs to and `digits` which digit it is (a group's inputs are all one
    digit; None: the prototypes only widen the check). The covariance and the scales stay as fitted.
    """
    groups = np.asarray(groups)
    names = list(dict.fromkeys(groups.tolist()))  # in order of first appearance
    digits = np.full(len(groups), -1) if digits is None else np.asarray(digits, np.int64)
    own = tuple(int(digits[groups == g][0]) for g in names)
    extra = len(clusters.layers[0].means) - CLASS_COUNT  # the prototypes there are already
    earlier = (tuple(clusters.prototype_digits) + (-1,) * extra)[:extra]
    layers = tuple(
        Clusters(
            np.concatenate(
                [layer.means, np.stack([np.asarray(f, np.float64)[groups == g].mean(axis=0) for g in names])]
            ),
            layer.precision,
            layer.scale,
        )
        for layer, f in zip(clusters.layers, features, strict=True)
    )
    return DigitClusters(layers, clusters.threshold, clusters.model_sha256, earlier + own)


def _feature_outputs(network: keras.Model) -> list:
    """A network's feature layers: what feeds each Dropout (each block's output; the last is what the
    classifier sees), averaged over the image for convolutional blocks; the last layer's input if none."""
    import keras

    tensors = [layer.input for layer in network.layers if isinstance(layer, keras.layers.Dropout)]
    tensors = tensors or [network.layers[-1].input]
    return [
        keras.layers.GlobalAveragePooling2D(name=f"{network.name}_pooled_{k}")(tensor)
        if len(tensor.shape) == 4
        else tensor
        for k, tensor in enumerate(tensors)
    ]


def feature_view(model: keras.Model) -> keras.Model:
    """The model with its feature layers as outputs, then its own probabilities as the last output.

    For an ensemble (a model whose layers are models), every member's feature layers, and the
    probabilities combined by the ensemble's own last layer (an ensemble of one member has none: its own).
    """
    import keras

    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not members:
        return keras.Model(model.inputs, [*_feature_outputs(model), model.outputs[0]])
    inputs = keras.Input(shape=model.inputs[0].shape[1:], name="pixels")
    features, probabilities = [], []
    for member in members:
        *layers, probability = keras.Model(member.inputs, [*_feature_outputs(member), member.outputs[0]])(
            inputs
        )
        features += layers
        probabilities.append(probability)
    combined = model.layers[-1](probabilities) if len(probabilities) > 1 else probabilities[0]
    return keras.Model(inputs, [*features, combined])


def features_and_probabilities(view: keras.Model, batch: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The features of each feature layer (a list of (N, D) arrays) and the probabilities (N, 10)."""
    inputs = _checked_batch(batch)
    if len(inputs) == 0:
        features = [np.zeros((0, int(output.shape[-1])), np.float32) for output in view.outputs[:-1]]
        return features, np.zeros((0, 10), np.float32)
    parts = padded_batches(view, inputs)
    columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
    return columns[:-1], columns[-1]


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex; for an ensemble folder, of its members' names and digests."""
    path = Path(path)
    if path.is_dir():
        listing = "".join(f"{member.name} {file_sha256(member)}\n" for member in member_files(path))
        return hashlib.sha256(listing.encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class DigitCheck:
    """A model and the clusters of its features: probabilities and a digit-or-not verdict in one pass."""

    view: keras.Model
    clusters: DigitClusters

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (N, 10) probabilities and an (N,) bool array: True where the input looks like a digit."""
        probabilities, _, is_digit = self.scored(batch)
        return probabilities, is_digit

    def scored(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The probabilities (with the styles read, DigitClusters.answers), each input's distance to the
        digits' clusters, and whether it is a digit."""
        probabilities, distances = self.clusters.answers(*features_and_probabilities(self.view, batch))
        return probabilities, distances, distances <= self.clusters.threshold


def load_clusters(name: str, novelty_path: str | Path = DEFAULT_MODEL_DIR / NOVELTY_FILE) -> DigitClusters:
    """The saved clusters of the model called `name` (a key such as "cnn"); NoveltyError names the file."""
    path = Path(novelty_path)
    if not path.is_file():
        raise NoveltyError(f"{path}: novelty statistics not found (run scripts/fit_novelty.py)")
    try:
        with np.load(path) as saved:
            layers = tuple(
                Clusters(
                    saved[f"{name}/{k}/means"],
                    saved[f"{name}/{k}/precision"],
                    float(saved[f"{name}/{k}/scale"]),
                )
                for k in range(int(saved[f"{name}/layers"]))
            )
            digits = saved[f"{name}/prototype_digits"] if f"{name}/prototype_digits" in saved else ()
            return DigitClusters(
                layers,
                float(saved[f"{name}/threshold"]),
                str(saved[f"{name}/sha256"]),
                tuple(int(d) for d in digits),
            )
    except KeyError as error:
        raise NoveltyError(
            f"{path}: no novelty statistics for the model {name!r} (run scripts/fit_novelty.py)"
        ) from error
    except Exception as error:  # cut short or bit-flipped: zipfile, zlib and numpy raise a dozen types
        raise NoveltyError(
            f"{path}: not a readable novelty file ({type(error).__name__}: {error})"
        ) from error


def saved_arrays(name: str, clusters: DigitClusters) -> dict[str, np.ndarray]:
    """The arrays that load_clusters reads back for the model called `name`."""
    arrays: dict[str, np.ndarray] = {
        f"{name}/layers": np.int64(len(clusters.layers)),
        f"{name}/threshold": np.float64(clusters.threshold),
        f"{name}/sha256": np.str_(clusters.model_sha256),
        f"{name}/prototype_digits": np.asarray(clusters.prototype_digits, np.int64).reshape(-1),
    }
    for k, layer in enumerate(clusters.layers):
        arrays |= {
            f"{name}/{k}/means": layer.means.astype(np.float32),
            f"{name}/{k}/precision": layer.precision.astype(np.float32),
            f"{name}/{k}/scale": np.float64(layer.scale),
        }
    return arrays


def fit_clusters(
    view: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_tuning: np.ndarray,
    model_sha256: str,
    styles: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> DigitClusters:
    """The clusters of a model's features (`view`: its feature_view) fitted on training digits (`y_train`:
    the digits, not one-hot), with one prototype per writing style when `styles` gives drawings, each one's
    style and its digit, and the threshold that refuses REFUSED_SHARE of the digits `x_tuning` (none fitted
    on)."""
    train_features, _ = features_and_probabilities(view, x_train)
    clusters = DigitClusters(tuple(fit_layer(f, y_train) for f in train_features), np.inf, model_sha256)
    if styles is not None:
        drawings, groups, digits = styles
        clusters = with_prototypes(clusters, features_and_probabilities(view, drawings)[0], groups, digits)
    distances = clusters.distances(features_and_probabilities(view, x_tuning)[0])
    threshold = float(np.quantile(distances, 1 - REFUSED_SHARE, method="higher"))
    return replace(clusters, threshold=threshold)


def load_digit_check(
    model: keras.Model, model_path: str | Path, novelty_path: str | Path | None = None
) -> DigitCheck:
    """The digit check for a loaded model, from the statistics saved for its file (by its name, e.g.
    models/cnn.keras -> "cnn", models/ensemble/ -> "ensemble"). NoveltyError when they are missing or were
    fitted for another version."""
    model_path = Path(model_path)
    novelty_path = Path(novelty_path) if novelty_path is not None else model_path.parent / NOVELTY_FILE
    clusters = load_clusters(model_path.stem, novelty_path)
    if clusters.model_sha256 != file_sha256(model_path):
        raise NoveltyError(
            f"{novelty_path}: fitted for another version of {model_path.name} (rerun scripts/fit_novelty.py)"
        )
    return DigitCheck(feature_view(model), clusters)


def load_checked_model(path: str | Path) -> tuple[keras.Model, DigitCheck | None, str]:
    """A saved model with its digit check, as both apps load them: (model, check, why there is no check).

    Without usable statistics the model is still returned, unchecked (check None), with the reason in one
    line; digitkit.models.ModelLoadError when the model itself can't be loaded.
    """
    model = load_model(path)
    try:
        return model, load_digit_check(model, path), ""
    except NoveltyError as error:
        return model, None, f"no 'not a digit' check: {error}"
