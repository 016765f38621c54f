"""Stroke widths: measured on real digits redrawn thin and thick, and such digits are read."""

import numpy as np
import pytest
from digitkit.preprocess import to_model_input
from testdata.mnist import mnist_digits
from testdata.strokes import MNIST_WIDTH_SHARE, skeleton, stroke_width, width_share
from testdata.synthetic import stroke_variant


def test_skeleton_of_a_thick_bar_is_its_one_pixel_centre_line():
    bar = np.zeros((30, 80), bool)
    bar[10:20, 10:70] = True
    centre = skeleton(bar)
    assert centre.sum() >= 45
    assert len(np.flatnonzero(centre.any(axis=1))) <= 2  # one line along the bar


@pytest.mark.parametrize("width", [3, 7, 13])
def test_stroke_width_of_a_drawn_line(width):
    board = np.zeros((120, 200), np.uint8)
    board[60 : 60 + width, 20:180] = 255
    assert stroke_width(board > 127) == pytest.approx(width, rel=0.25)


def tight(digit: np.ndarray) -> np.ndarray:
    """The digit cropped to its ink."""
    rows, cols = np.flatnonzero((digit > 0.2).any(axis=1)), np.flatnonzero((digit > 0.2).any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def test_mnist_strokes_lie_between_a_ballpoint_and_a_marker():
    images, _ = mnist_digits()
    chosen = range(0, 5000, 250)
    thin = np.median([width_share(stroke_variant(images[i], 200, 0.04, seed=i)) for i in chosen])
    thick = np.median([width_share(stroke_variant(images[i], 200, 0.25, seed=i)) for i in chosen])
    mnist = np.median([width_share(tight(images[i].astype(np.float32) / 255)) for i in chosen])
    assert thin < 0.5 * mnist and thick > 1.4 * mnist
    assert mnist == pytest.approx(MNIST_WIDTH_SHARE, rel=0.15)


@pytest.mark.parametrize(("share", "least"), [(0.04, 0.95), (0.25, 0.85)])
def test_thin_and_thick_digits_are_read(cnn_digit_check, share, least):
    images, labels = mnist_digits()
    chosen = np.arange(7, 5000, 50)
    batch = np.stack([to_model_input(stroke_variant(images[i], 200, share, seed=int(i))) for i in chosen])
    probabilities, _ = cnn_digit_check(batch)
    assert (probabilities.argmax(axis=1) == labels[chosen]).mean() >= least
