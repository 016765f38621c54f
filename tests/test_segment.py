"""find_digits and read_digits on photo-like rows of real handwritten digits."""

import cv2
import numpy as np
import pytest
from digitkit import DigitBox, TooManyDigitsError, find_digits, read_digits
from testdata.rows import bar_code, photo_with_small_digits, render_row, stroke_image
from testdata.synthetic import paper_photo

TEXTS = ["40213", "987654", "1357", "24680", "31415", "70952"]


def overlap_share(found: DigitBox, true_box: tuple[int, int, int, int]) -> float:
    """Intersection over union of a found box and a true box."""
    x, y, w, h = true_box
    across = max(0, min(found.x + found.w, x + w) - max(found.x, x))
    down = max(0, min(found.y + found.h, y + h) - max(found.y, y))
    shared = across * down
    return shared / (found.w * found.h + w * h - shared)


def assert_boxes_match(found: list[DigitBox], truth: list[tuple[int, int, int, int]]) -> None:
    """One box per digit, in left-to-right order, each on its digit."""
    assert len(found) == len(truth)
    assert [box.x for box in found] == sorted(box.x for box in found)
    for box, true_box in zip(found, truth, strict=True):
        assert overlap_share(box, true_box) > 0.6


@pytest.mark.parametrize("seed", range(len(TEXTS)))
def test_dark_ink_on_uneven_light_paper(seed):
    row = render_row(TEXTS[seed], seed=seed, uneven_light=60, noise=8, blur=1.2)
    assert_boxes_match(find_digits(row.image), row.boxes)


@pytest.mark.parametrize("seed", range(len(TEXTS)))
def test_light_ink_on_dark(seed):
    row = render_row(TEXTS[seed], seed=seed, dark_ink=False)
    assert_boxes_match(find_digits(row.image), row.boxes)


@pytest.mark.parametrize("shear", [-0.35, 0.35])
@pytest.mark.parametrize("seed", range(3))
def test_slanted_digits_whose_boxes_overlap(seed, shear):
    row = render_row(TEXTS[seed], seed=seed, shear=shear, gap=0.05)
    assert_boxes_match(find_digits(row.image), row.boxes)


@pytest.mark.parametrize("height", [20, 150])
def test_small_and_large_digits(height):
    row = render_row("52806", digit_height=height, seed=4)
    assert_boxes_match(find_digits(row.image), row.boxes)


def test_gray_input_gives_the_same_boxes_as_bgr():
    row = render_row("7315", seed=2)
    gray = cv2.cvtColor(row.image, cv2.COLOR_BGR2GRAY)
    assert [(b.x, b.y, b.w, b.h) for b in find_digits(gray)] == [
        (b.x, b.y, b.w, b.h) for b in find_digits(row.image)
    ]


def test_touching_digits_are_split():
    rng = np.random.default_rng(0)
    pairs = [
        render_row("".join(map(str, rng.integers(0, 10, 2))), seed=seed, touching=True) for seed in range(60)
    ]
    one_blob = [
        row for row in pairs if cv2.connectedComponents((row.image[:, :, 0] < 128).astype(np.uint8))[0] == 2
    ]
    assert len(one_blob) >= 40  # the renders really do touch: each pair is one blob of ink
    split = [find_digits(row.image) for row in one_blob]
    assert sum(len(boxes) == 2 for boxes in split) >= 0.65 * len(one_blob)
    for boxes, row in zip(split, one_blob, strict=True):
        if len(boxes) == 2:  # the cut falls between the two digits' centres
            (x0, _, w0, _), (x1, _, w1, _) = row.boxes
            assert x0 + w0 / 2 < boxes[0].x + boxes[0].w < x1 + w1 / 2


def test_broken_strokes_are_merged_into_one_digit():
    row = render_row("5555", seed=1)
    image = row.image.copy()
    for x, y, w, h in row.boxes:  # cut every digit in two with a band of paper across its middle
        image[y + h // 2 - 2 : y + h // 2 + 2, x : x + w] = 215
    assert_boxes_match(find_digits(image), row.boxes)


def test_specks_of_noise_are_ignored():
    row = render_row("2468", seed=3)
    image = row.image.copy()
    rng = np.random.default_rng(0)
    height, width = image.shape[:2]
    for _ in range(40):
        cv2.circle(image, (int(rng.integers(0, width)), int(rng.integers(0, height))), 1, (40, 40, 40), -1)
    assert_boxes_match(find_digits(image), row.boxes)


def test_blank_paper_has_no_digits():
    paper = render_row("1", seed=0).image
    paper[:] = 215
    noisy = np.clip(paper + np.random.default_rng(1).normal(0, 6, paper.shape), 0, 255).astype(np.uint8)
    assert find_digits(noisy) == []


def test_crops_are_bright_ink_on_dark_and_fit_their_boxes():
    row = render_row("3097", seed=5)
    for box in find_digits(row.image):
        assert box.crop.shape == (box.h, box.w)
        assert box.crop.max() > 150
        frame = np.concatenate([box.crop[0], box.crop[-1], box.crop[:, 0], box.crop[:, -1]])
        assert np.median(frame) < 40


def test_small_digits_in_a_big_photo_are_found_not_taken_for_specks():
    photo, truth = photo_with_small_digits("40213", size=6000, digit_height=80)
    assert_boxes_match(find_digits(photo), truth)  # boxes in the photo's own pixels


def test_a_row_in_a_very_wide_image_is_found_where_it_is():
    row = render_row("52806", seed=4)
    wide = np.full((row.image.shape[0], 9000, 3), 215, np.uint8)  # wider than the resolution searched
    wide[:, 4000 : 4000 + row.image.shape[1]] = row.image
    truth = [(x + 4000, y, w, h) for x, y, w, h in row.boxes]
    assert_boxes_match(find_digits(wide), truth)


@pytest.mark.parametrize("shape", [(12, 4000), (20, 20000)])
def test_one_long_stroke_is_a_line_not_a_row_of_digits(shape):
    assert find_digits(stroke_image(*shape)) == []  # it used to be cut piece by piece, recursively


def test_a_strip_millions_of_pixels_long_is_searched_without_trouble():
    strip = np.full((4_000_000, 1), 255, np.uint8)
    strip[::7] = strip[1::7] = strip[2::7] = 0  # 571,000 separate dashes, a piece each
    assert find_digits(strip) == []
    assert find_digits(strip.T) == []


def test_hundreds_of_shapes_are_too_many_digits():
    assert len(find_digits(bar_code(120))) == 120  # a long row of 1s is still read
    with pytest.raises(TooManyDigitsError, match="more than 300 digit-like shapes"):
        find_digits(bar_code(350))


def test_solid_blots_are_not_read_as_digits(best_model):
    bar = np.full((200, 300), 255, np.uint8)
    bar[:, 100:200] = 0  # a crop of it holds no strokes, only ink
    assert read_digits(bar, best_model).boxes == []


def test_empty_and_one_pixel_images_have_no_digits():
    for image in (np.zeros((0, 0), np.uint8), np.zeros((5, 0, 3), np.uint8), np.array([[0]], np.uint8)):
        assert find_digits(image) == []


def test_read_digits_reads_photo_like_rows(best_model):
    rows = [render_row(text, seed=seed, uneven_light=40) for seed, text in enumerate(TEXTS)]
    rows += [render_row(text, seed=seed, dark_ink=False) for seed, text in enumerate(TEXTS)]
    right = total = 0
    for row in rows:
        reading = read_digits(row.image, best_model)
        text = reading.text
        assert len(text) == len(reading.boxes) == len(reading.predictions) == len(row.text)
        assert np.allclose(reading.probabilities.sum(axis=1), 1, atol=1e-4)
        assert all(p.model_input.shape == (28, 28) and p.model_input.max() == 1 for p in reading.predictions)
        right += sum(a == b for a, b in zip(text, row.text, strict=True))
        total += len(row.text)
    assert right / total >= 0.9


def test_read_digits_on_slanted_and_touching_rows(best_model):
    rows = [render_row(text, seed=seed, shear=0.3, gap=0.1) for seed, text in enumerate(TEXTS)]
    rows += [render_row(text, seed=seed, gap=-0.03) for seed, text in enumerate(TEXTS)]
    right = total = 0
    for row in rows:
        text = read_digits(row.image, best_model).text
        if len(text) == len(row.text):
            right += sum(a == b for a, b in zip(text, row.text, strict=True))
        total += len(row.text)
    assert right / total >= 0.75


def test_read_digits_reads_small_digits_in_a_big_photo(best_model):
    photo, _ = photo_with_small_digits("40213")
    assert read_digits(photo, best_model).text == "40213"


def test_read_digits_of_blank_image_is_empty(best_model):
    reading = read_digits(np.full((100, 300), 230, np.uint8), best_model)
    assert (reading.text, reading.boxes, reading.predictions, reading.probabilities.shape) == (
        "",
        [],
        [],
        (0, 10),
    )


def test_each_step_of_the_segmenter_can_be_switched_off_and_does_its_part():
    # the switches are what benchmarks/bench_writers.py --ablation measures (digitkit.marks.Rules)
    touching = render_row("38", touching=True, seed=1)
    assert_boxes_match(find_digits(touching.image), touching.boxes)
    assert len(find_digits(touching.image, split=False)) == 1  # the two digits stay one blob
    broken = render_row("5", seed=2, noise=0)
    image = broken.image.copy()
    x, y, w, h = broken.boxes[0]
    image[y + h // 2 - 3 : y + h // 2 + 3, :] = 215  # a gap across the 5: a top and a bottom piece
    assert len(find_digits(image)) == 1 and len(find_digits(image, merge=False)) > 1
    speck = render_row("47", seed=3, noise=0).image.copy()
    cv2.circle(speck, (10, 10), 4, (45, 45, 45), -1)  # a dot far shorter than the digits
    assert len(find_digits(speck)) == 2 and len(find_digits(speck, heights=False)) == 3
    squared = paper_photo("4207", seed=1, kind="squared")
    assert len(find_digits(squared.image)) == 4 and len(find_digits(squared.image, paper=False)) != 4
