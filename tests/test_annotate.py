"""The one annotator both apps use: boxes and labels in the prediction's colour, sized for looking at."""

import numpy as np
import pytest
from digitkit import DigitBox, annotate, prediction_from, read_digits
from digitkit.annotate import SURE_COLOUR, UNSURE_COLOUR
from testdata.rows import render_row


def certain(digit: int) -> np.ndarray:
    """Ten probabilities, all on `digit`."""
    return np.eye(10, dtype=np.float32)[digit]


def box_at(x: int, y: int, w: int, h: int) -> DigitBox:
    return DigitBox(x, y, w, h, crop=np.zeros((h, w), np.uint8))


@pytest.fixture(scope="module")
def row_reading(best_model):
    row = render_row("52", seed=1)
    return row, read_digits(row.image, best_model)


@pytest.mark.parametrize(
    ("threshold", "colour", "label"), [(0.95, SURE_COLOUR, ""), (1.01, UNSURE_COLOUR, "?")]
)
def test_each_digit_is_boxed_green_when_sure_orange_when_not(row_reading, threshold, colour, label):
    row, reading = row_reading
    predictions = [prediction_from(p.probabilities, p.model_input, threshold) for p in reading.predictions]
    assert [p.label for p in predictions] == [f"{digit}{label}" for digit in "52"]
    if threshold == 0.95:
        assert all(p.sure for p in predictions), "the model should be sure of these clear digits"
    annotated = annotate(row.image, reading.boxes, predictions)
    scale = annotated.shape[1] / row.image.shape[1]
    assert scale > 1 and abs(annotated.shape[0] - row.image.shape[0] * scale) <= 1  # enlarged to look at
    for box in reading.boxes:  # the bottom edge of each box is drawn in the prediction's colour
        y = round((box.y + box.h) * scale) - 2
        edge = annotated[y, round(box.x * scale) + 3 : round((box.x + box.w) * scale) - 3]
        assert (edge == colour).all(axis=1).mean() > 0.9
    other = UNSURE_COLOUR if colour == SURE_COLOUR else SURE_COLOUR
    assert not (annotated == other).all(axis=2).any()


def test_labels_grow_with_the_digits():
    page = np.full((600, 900, 3), 230, np.uint8)
    small = annotate(page, [box_at(100, 300, 20, 30)], [prediction_from(certain(1), None)], scale=1)
    large = annotate(page, [box_at(100, 300, 200, 280)], [prediction_from(certain(1), None)], scale=1)
    label_area = [((image == SURE_COLOUR).all(axis=2)[:300]).sum() for image in (small, large)]
    assert label_area[1] > 4 * label_area[0]  # the filled label above the box


def test_a_big_photo_is_shrunk_for_the_page():
    photo = np.full((3000, 4000, 3), 230, np.uint8)
    annotated = annotate(photo, [box_at(1000, 1000, 400, 600)], [prediction_from(certain(8), None)])
    assert annotated.shape == (1350, 1800, 3)
    assert (annotated[1000 * 1350 // 3000 + 40, 1000 * 1800 // 4000] == SURE_COLOUR).all()  # left edge


@pytest.mark.parametrize("shape", [(1, 20000), (20000, 1), (12, 4000), (4096, 3)])
def test_extreme_shapes_stay_within_a_screen(shape):
    annotated = annotate(np.full(shape, 255, np.uint8), [], [])
    height, width = annotated.shape[:2]
    assert height <= 2400 and width <= 1800 and annotated.shape[2] == 3


def test_nothing_read_leaves_the_image_as_it_was():
    row = render_row("726", seed=1)
    assert np.array_equal(annotate(row.image, [], [], scale=1), row.image)
    gray = row.image[:, :, 0]
    assert np.array_equal(annotate(gray, [], [], scale=1), row.image)  # gray comes back as BGR
