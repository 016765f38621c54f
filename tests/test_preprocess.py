"""to_model_input: polarity, cropping, scaling to 20 px, centring by mass, empty and tiny inputs."""

import cv2
import numpy as np
import pytest
from digitkit import EmptyImageError, has_ink, to_model_input, to_model_input_image
from scipy import ndimage
from testdata.rows import digit_drawing, real_digit

LABELS = range(10)


def ink_box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the bounding box of the non-zero pixels."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@pytest.mark.parametrize("label", LABELS)
def test_drawing_becomes_784_floats_in_unit_range(label):
    model_input = to_model_input(digit_drawing(label))
    assert model_input.shape == (784,)
    assert model_input.dtype == np.float32
    assert 0.0 <= model_input.min() and model_input.max() <= 1.0
    assert model_input.max() == pytest.approx(1.0)


@pytest.mark.parametrize("label", LABELS)
def test_centre_of_mass_lands_on_14_14(label):
    field = to_model_input_image(digit_drawing(label, index=7))
    row, col = ndimage.center_of_mass(field)
    assert abs(row - 14) <= 1.0 and abs(col - 14) <= 1.0


@pytest.mark.parametrize("size", [40, 280, 1000])
@pytest.mark.parametrize("label", [0, 1, 4, 7])
def test_longest_side_is_scaled_to_20_px_whatever_the_size(label, size):
    height, width = ink_box(to_model_input_image(digit_drawing(label, size=size)))
    assert max(height, width) == 20
    assert min(height, width) <= 20


def test_aspect_ratio_is_kept():
    bar = np.zeros((300, 300), np.uint8)
    bar[140:160, 50:250] = 255  # 200 x 20: a dash
    height, width = ink_box(to_model_input_image(bar))
    assert width == 20
    assert height == pytest.approx(2, abs=1)


@pytest.mark.parametrize("label", LABELS)
def test_result_looks_like_the_mnist_original(label):
    """An MNIST digit drawn large and processed again comes back as itself (up to a pixel's shift)."""
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    similarities = []
    for index in range(10):
        original = real_digit(label, index).astype(np.float32) / 255
        redone = to_model_input_image(digit_drawing(label, index=index, size=280))
        similarities.append(
            max(
                np.corrcoef(original.ravel(), np.roll(redone, shift, axis=(0, 1)).ravel())[0, 1]
                for shift in shifts
            )
        )
    assert np.mean(similarities) > 0.95
    assert min(similarities) > 0.85


@pytest.mark.parametrize("label", [2, 8])
def test_dark_ink_on_light_paper_is_inverted_automatically(label):
    light_on_dark = to_model_input(digit_drawing(label))
    dark_on_light = to_model_input(digit_drawing(label, dark_ink=True))
    assert np.abs(light_on_dark - dark_on_light).max() < 0.02
    forced = to_model_input(digit_drawing(label, dark_ink=True), invert=True)
    assert np.abs(forced - dark_on_light).max() < 0.02


def test_gray_paper_and_gray_pencil_are_stretched_to_full_range():
    drawing = digit_drawing(3, dark_ink=True).astype(np.float32)
    photo_like = (90 + drawing * 0.5).astype(np.uint8)  # pencil at 90, paper at 217
    model_input = to_model_input(photo_like)
    assert model_input.max() == pytest.approx(1.0)
    assert np.abs(model_input - to_model_input(digit_drawing(3))).max() < 0.05


def test_float_bgr_and_uint8_inputs_agree():
    drawing = digit_drawing(5)
    as_uint8 = to_model_input(drawing)
    assert np.allclose(to_model_input(drawing.astype(np.float32) / 255), as_uint8, atol=1e-5)
    assert np.allclose(to_model_input(cv2.cvtColor(drawing, cv2.COLOR_GRAY2BGR)), as_uint8, atol=1e-5)


def test_display_image_is_the_model_input_reshaped():
    drawing = digit_drawing(6)
    assert to_model_input_image(drawing).shape == (28, 28)
    assert np.array_equal(to_model_input_image(drawing).ravel(), to_model_input(drawing))


@pytest.mark.parametrize(
    "blank",
    [np.zeros((280, 280), np.uint8), np.full((280, 280), 255, np.uint8), np.full((50, 80), 0.5, np.float32)],
    ids=["black", "white", "gray"],
)
def test_image_without_ink_raises_a_clear_error(blank):
    assert not has_ink(blank)
    with pytest.raises(EmptyImageError, match="no ink"):
        to_model_input(blank)


def test_empty_array_raises():
    with pytest.raises(EmptyImageError):
        to_model_input(np.zeros((0, 0), np.uint8))


def test_one_pixel_image_is_blank_not_a_crash():
    for value in (0, 255):
        one_pixel = np.array([[value]], np.uint8)
        assert not has_ink(one_pixel)
        with pytest.raises(EmptyImageError):
            to_model_input(one_pixel)


def test_one_ink_pixel_on_a_board_becomes_a_centred_dot():
    board = np.zeros((100, 100), np.uint8)
    board[10, 85] = 255
    assert has_ink(board)
    field = to_model_input_image(board)
    row, col = ndimage.center_of_mass(field)
    assert abs(row - 14) <= 1.0 and abs(col - 14) <= 1.0
    assert field.max() == pytest.approx(1.0)


def test_drawing_has_ink():
    assert has_ink(digit_drawing(1))
    assert has_ink(digit_drawing(1, dark_ink=True))


def test_colour_image_of_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        to_model_input(np.zeros((4, 4, 4, 4), np.uint8))
