"""Photos of numbers on notebook paper: page lines, margins, shadows and marks that are not digits."""

from itertools import pairwise

import cv2
import numpy as np
import pytest
from digitkit.annotate import NOT_A_DIGIT_COLOUR, annotate
from digitkit.marks import SLASH_SLANT, _touching, read_marks, slant
from digitkit.models import DEFAULT_MODEL_DIR, load_model
from digitkit.novelty import load_digit_check
from digitkit.paper import ink_on_paper
from digitkit.prediction import Status
from digitkit.preprocess import to_model_input
from digitkit.reading import read_digits
from digitkit.segment import MIN_INK_CONTRAST, DigitBox, find_digits, ink_map
from testdata.rows import render_row
from testdata.synthetic import PAPER_KINDS, non_digit_drawing, paper_photo, paper_photos, pen_digit


@pytest.mark.parametrize("kind", PAPER_KINDS)
def test_an_empty_page_has_no_digits(kind):
    # ruled lines, a red margin or squares, a shadow and a tilt, but nothing written
    page = paper_photo("", seed=3, kind=kind, underline=False)
    assert find_digits(page.image) == []


def test_a_stroke_that_crosses_a_ruled_line_is_kept():
    page = paper_photo("", seed=5, kind="ruled", underline=False).image.copy()
    height, width = page.shape[:2]
    x, top, bottom = width // 2, height // 2 - 75, height // 2 + 75  # short of a page line's length
    cv2.line(
        page, (x, top), (x, bottom), (80, 30, 15), 3
    )  # dark blue ink (shadows too), across a rule or two
    ink = ink_on_paper(page, MIN_INK_CONTRAST)
    assert ink is not None
    column = ink[top + 5 : bottom - 5, x - 1 : x + 2].max(axis=1)
    assert (column >= MIN_INK_CONTRAST).all()  # unbroken where the rules cross it
    assert (ink[:, : width // 3] >= MIN_INK_CONTRAST).mean() < 0.001  # the rules and the margin are gone


def test_plain_rows_are_left_to_the_usual_levelling():
    row = render_row("40213", seed=0, uneven_light=60)
    assert ink_on_paper(row.image, MIN_INK_CONTRAST) is None
    assert ink_map(row.image).shape == row.image.shape[:2]


@pytest.mark.parametrize("kind", PAPER_KINDS)
def test_a_photo_of_a_number_is_read(cnn_digit_check, kind):
    photo = paper_photo("40213", seed=11, kind=kind)
    assert read_marks(photo.image, cnn_digit_check).text == "40213"


def test_read_digits_with_the_check_leaves_marks_that_are_not_digits_out(cnn_digit_check):
    photo = paper_photo("4207", seed=21, kind="ruled", extras="No. ")
    reading = read_digits(photo.image, load_model(DEFAULT_MODEL_DIR / "cnn.keras"), cnn_digit_check)
    assert reading.text == "4207"
    refused = [p for p in reading.predictions if p.status is Status.NOT_A_DIGIT]
    assert refused and all(p.label == "x" for p in refused)
    annotated = annotate(photo.image, reading.boxes, reading.predictions, scale=1)
    assert (annotated == NOT_A_DIGIT_COLOUR).all(axis=2).any()  # boxed in grey


def test_marks_before_the_number_are_skipped(cnn_digit_check):
    photo = paper_photo("4207", seed=21, kind="ruled", extras="No. ")
    reading = read_marks(photo.image, cnn_digit_check)
    assert reading.text == "4207"
    assert len(reading.marks) > len(reading.text)  # the N, the o (and the dot) were found, then skipped


@pytest.mark.parametrize(("seed", "kind"), [(31, "squared"), (32, "ruled")])
def test_the_halves_of_a_hash_are_no_digits(cnn_digit_check, seed, kind):
    # the segmenter cuts the wide # in two; each half is nearly a 7, but a piece of a non-digit is none
    photo = paper_photo("4207", seed=seed, kind=kind, extras="# ")
    assert read_marks(photo.image, cnn_digit_check).text == "4207"


def test_a_slash_leans_further_than_handwritten_ones(real_digits):
    pixels, labels = real_digits
    ones = [slant(image) for image in pixels[labels == 1]]
    assert np.mean(np.array(ones) > SLASH_SLANT) <= 0.025  # 2% of Kaggle's 1s lean further (500 here)
    upright = np.zeros((28, 28), np.float32)
    upright[4:24, 13:15] = 1.0
    assert abs(slant(upright)) < 1.0
    drawn = np.array([slant(to_model_input(non_digit_drawing("/", seed=seed))) for seed in range(40)])
    assert np.median(drawn) > np.percentile(ones, 90)  # a typical slash leans further than 9 in 10 1s ...
    assert np.mean(drawn > SLASH_SLANT) >= 0.3  # ... so the rule can skip only some slashes


@pytest.mark.slow
def test_a_phone_sized_photo_is_read_like_a_small_one(cnn_digit_check):
    # 9 megapixels: searched at a lower resolution, so the crops are smaller than their boxes, and the
    # pieces of a cut digit are joined all the same (this one has such a pair)
    photo = paper_photo("781364", seed=5005, kind="squared")
    large = cv2.resize(photo.image, None, fx=3.5, fy=3.5, interpolation=cv2.INTER_CUBIC)
    assert large.shape[0] * large.shape[1] > 4_000_000
    assert read_marks(photo.image, cnn_digit_check).text == "781364"
    assert read_marks(large, cnn_digit_check).text == "781364"


@pytest.mark.slow
def test_nine_in_ten_generated_photos_are_read_exactly():
    # the ensemble reads 9 of these 10; benchmarks/bench_paper_photos.py measures 50
    path = DEFAULT_MODEL_DIR / "ensemble"
    check = load_digit_check(load_model(path), path)
    photos = paper_photos(10, seed=0)
    read = [read_marks(photo.image, check).text for photo in photos]
    exact = sum(text == photo.text for text, photo in zip(read, photos, strict=True))
    assert exact >= 9, [(photo.text, text) for text, photo in zip(read, photos, strict=True)]


def holes(ink: np.ndarray) -> int:
    """How many closed loops the ink (coverage 0..1) has: contours with a parent."""
    _, hierarchy = cv2.findContours((ink > 0.5).astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return 0 if hierarchy is None else int((hierarchy[0][:, 3] >= 0).sum())


def test_a_loop_a_thick_pen_filled_in_is_retraced_as_a_loop():
    # a 6 as a thick pen writes it small: the stem and a loop with no hole left; its centre line alone
    # would be a stroke with a hook, which no one reads as a 6
    six = np.zeros((28, 28), np.uint8)
    cv2.line(six, (16, 4), (10, 16), 255, 3)
    cv2.circle(six, (13, 18), 6, 255, -1)
    assert holes(six / 255) == 0
    assert holes(pen_digit(six, 90, 2.5)) == 1
    one = np.zeros((28, 28), np.uint8)
    cv2.line(one, (14, 4), (12, 24), 255, 3)
    assert holes(pen_digit(one, 90, 2.5)) == 0  # no loop where the writer drew none


def test_generated_photos_are_deterministic_and_varied():
    first, again, other = paper_photo("123", seed=1), paper_photo("123", seed=1), paper_photo("123", seed=2)
    assert np.array_equal(first.image, again.image)
    assert first.image.shape != other.image.shape or not np.array_equal(first.image, other.image)
    assert first.image.ndim == 3 and first.image.dtype == np.uint8


@pytest.mark.parametrize("seed", range(6))
def test_every_mark_of_a_long_number_is_on_the_photo(seed):
    # "No. " and six wide digits overran a narrow page: the marks past its edge were left off the photo,
    # and the benchmarks counted a reading without them as a lost digit
    photo = paper_photo("808080", seed=seed, extras="No. ")
    height, width = photo.image.shape[:2]
    assert len(photo.boxes) == len("No. 808080")
    assert all(0 <= x and x + w <= width and 0 <= y and y + h <= height for x, y, w, h in photo.boxes)
    assert all(a[0] + a[2] <= b[0] for a, b in pairwise(photo.boxes))  # left to right, apart


def test_pieces_of_one_digit_side_by_side_or_one_above_the_other_touch():
    def box(x, y, w, h):
        return DigitBox(x, y, w, h, np.zeros((h, w), np.uint8))

    assert _touching(box(0, 0, 20, 50), box(21, 5, 20, 50))  # a blob the segmenter cut in two
    assert _touching(box(30, 0, 15, 20), box(10, 22, 30, 28))  # the hook of a 2 above its loop, apart
    assert not _touching(box(0, 0, 20, 50), box(35, 0, 20, 50))  # two digits with a gap between
    assert not _touching(box(0, 0, 20, 50), box(0, 70, 20, 50))  # two rows
