"""Property-based tests (hypothesis): random bytes, mutated real image files and random arrays of odd
shapes and types fed to the image decoder, segmentation, preprocessing and reading either work or raise the
project's own errors; never another exception (a RecursionError, a crash in a library). Phone photos with
any EXIF, however malformed, are decoded, turned upright when their orientation can be read."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pytest
from digitkit import (
    DEFAULT_MODEL_DIR,
    DigitBox,
    EmptyImageError,
    ImageArrayError,
    ImageReadError,
    Status,
    TooManyDigitsError,
    decode_image,
    find_digits,
    load_model,
    read_digits,
    to_model_input,
)
from digitkit.pixels import WORK_PIXELS, WORK_SIDE
from hostile_files import encoded, exif_block, orientation_entry
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, TiffTags
from testdata.rows import bar_code, render_row

# Deterministic (the same examples on every run, so CI never flakes) and quick: a few seconds per test.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def seed_files() -> tuple[bytes, ...]:
    """Real image files to mutate: a photo-like row of digits in each format the apps take, and more."""
    row = Image.fromarray(render_row("407", seed=2, digit_height=28).image[:, :, ::-1])
    files = []
    for image_format, image in [
        ("PNG", row),
        ("JPEG", row),
        ("PNG", row.convert("L")),
        ("PNG", row.convert("P")),
        ("PNG", row.convert("RGBA")),
        ("GIF", row),
        ("BMP", row),
        ("TIFF", row),
        ("WEBP", row),
        ("PNG", Image.fromarray(np.asarray(row.convert("L"), np.uint16) * 256)),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, image_format)
        files.append(buffer.getvalue())
    return tuple(files)


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A real image file with a few bytes flipped, overwritten, inserted or deleted, or cut short."""
    data = bytearray(draw(st.sampled_from(seed_files())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "overwrite", "insert", "delete", "truncate", "header"]))
        where = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[where : where + len(chunk)] = chunk
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[where:]
        else:  # the first bytes hold the format's signature and the size: change them
            data[draw(st.integers(0, min(40, len(data)))) : 40] = draw(st.binary(max_size=40))
    return bytes(data)


def assert_decoded_or_refused(data: bytes) -> np.ndarray | None:
    """Decode the bytes: a uint8 BGR image within the sizes digitkit works at, or ImageReadError."""
    try:
        image = decode_image(data, "fuzz.png")
    except ImageReadError as error:
        message = str(error)
        assert message.startswith("fuzz.png: ") and "\n" not in message
        event(f"refused: {message.removeprefix('fuzz.png: ').split(' (')[0]}")
        return None
    event("decoded")
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    height, width = image.shape[:2]
    assert 0 < height * width <= WORK_PIXELS and max(height, width) <= WORK_SIDE
    return image


def assert_boxes_fit(boxes: list[DigitBox], image: np.ndarray) -> None:
    """Digit boxes lie inside the image, left to right, each with a crop of ink."""
    height, width = image.shape[:2]
    for box in boxes:
        assert 0 <= box.x and 0 <= box.y and box.w >= 1 and box.h >= 1
        assert box.x + box.w <= width and box.y + box.h <= height
        assert box.crop.ndim == 2 and box.crop.dtype == np.uint8
    centres = [box.x + box.w / 2 for box in boxes]
    assert centres == sorted(centres)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_are_decoded_or_refused_in_one_line(data):
    assert_decoded_or_refused(data)


@FUZZ
@given(mutated_files())
def test_mutated_image_files_are_decoded_or_refused_and_then_searched(data):
    image = assert_decoded_or_refused(data)
    if image is not None:
        try:
            assert_boxes_fit(find_digits(image), image)
        except TooManyDigitsError:
            pass


# EXIF: a photo stored as the camera held it, with an orientation and other tags, however malformed.
STORED_AS = {  # orientation: how the camera stores an upright picture (the inverse of what shows it upright)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
EXIF_TAGS = st.one_of(st.sampled_from(sorted(TiffTags.TAGS_V2)), st.integers(0, 0xFFFF))  # mostly known ones
EXIF_ENTRIES = st.tuples(  # tag, type (1-12 are TIFF's; 0, 13, 14 are not), count, value or offset
    EXIF_TAGS,
    st.integers(0, 14),
    st.one_of(st.integers(0, 8), st.sampled_from([1000, 2**31 - 1, 2**32 - 1])),
    st.binary(min_size=4, max_size=4),
)
PHOTO_FORMATS = st.sampled_from([("JPEG", {"quality": 95}), ("PNG", {}), ("WEBP", {"lossless": True})])


def digit_card() -> Image.Image:
    """A 20 x 40 gray picture, dark in its top-left corner: any turn or mirror of it shows."""
    card = Image.new("L", (20, 40), 220)
    card.paste(0, (0, 0, 10, 10))
    return card


def looks_like(image: np.ndarray, picture: Image.Image) -> bool:
    """True when a decoded BGR image is the gray picture (within JPEG's loss)."""
    expected = np.asarray(picture, dtype=np.int16)
    return image.shape[:2] == expected.shape and np.abs(image[:, :, 0] - expected).mean() < 12


@st.composite
def phone_photos(draw: st.DrawFn, malformed: bool) -> tuple[bytes, Image.Image, Image.Image]:
    """A photo of the test card stored at a random orientation (0 and 9: no such value) in JPEG, PNG or
    WebP, with EXIF: the orientation among random raw tags, maybe cut short (malformed), or the orientation
    and random well-formed tags written by Pillow. Returns the file, the picture upright and as stored."""
    orientation = draw(st.integers(0, 9))
    upright = digit_card()
    stored = upright.transpose(STORED_AS[orientation]) if orientation in STORED_AS else upright
    if malformed:
        entries = [orientation_entry(orientation), *draw(st.lists(EXIF_ENTRIES, max_size=6))]
        block = exif_block(sorted(entries) if draw(st.booleans()) else entries)
        block = block[: draw(st.integers(6, len(block)))]
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        for tag in draw(st.lists(st.sampled_from([0x010E, 0x010F, 0x0110, 0x0131, 0x013B]), unique=True)):
            exif[tag] = draw(st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=20))
        block = exif.tobytes()
    image_format, options = draw(PHOTO_FORMATS)
    return encoded(stored, image_format, exif=block, **options), upright, stored


@FUZZ
@given(phone_photos(malformed=True))
def test_photos_with_malformed_exif_are_decoded_upright_or_as_stored(photo):
    data, upright, stored = photo
    image = decode_image(data, "phone.jpg")  # whole pixels: never refused for their EXIF
    turned = looks_like(image, upright)
    assert turned or looks_like(image, stored)
    event("turned upright" if turned else "as stored")


@FUZZ
@given(phone_photos(malformed=False))
def test_photos_with_well_formed_exif_are_decoded_upright(photo):
    data, upright, _ = photo
    assert looks_like(decode_image(data, "phone.jpg"), upright)


# Arrays: every dtype a caller might hand over, shapes from empty to 4-D, odd sizes and extreme aspects.
DTYPES = st.sampled_from(
    [np.uint8, np.int8, np.uint16, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_]
)
ODD_SHAPES = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40),
    st.tuples(st.integers(1, 3), st.integers(1, 6000)),
    st.tuples(st.integers(1, 6000), st.integers(1, 3)),
    st.tuples(st.integers(1, 60), st.integers(1, 60), st.sampled_from([1, 2, 3, 4, 5])),
)


@FUZZ
@given(hnp.arrays(DTYPES, ODD_SHAPES))
def test_random_arrays_are_searched_or_refused_as_not_an_image(array):
    try:
        boxes = find_digits(array)
    except (ImageArrayError, TooManyDigitsError):
        return
    assert_boxes_fit(boxes, array)


@FUZZ
@given(hnp.arrays(DTYPES, ODD_SHAPES))
def test_random_arrays_become_a_model_input_or_a_clear_error(array):
    try:
        model_input = to_model_input(array)
    except (EmptyImageError, ImageArrayError):
        return
    assert model_input.shape == (784,) and model_input.dtype == np.float32
    assert 0 <= model_input.min() and model_input.max() <= 1


@st.composite
def scribbles(draw: st.DrawFn) -> np.ndarray:
    """Paper of a random size with random strokes, blots and dots: the shapes segmentation cuts and joins."""
    import cv2

    height, width = draw(st.integers(8, 400)), draw(st.integers(8, 1200))
    page = np.full((height, width), draw(st.sampled_from([0, 128, 230, 255])), np.uint8)
    ink = 255 - int(page[0, 0]) if page[0, 0] in (0, 255) else draw(st.sampled_from([0, 255]))
    for _ in range(draw(st.integers(0, 40))):
        x0, x1 = draw(st.integers(-20, width + 20)), draw(st.integers(-20, width + 20))
        y0, y1 = draw(st.integers(-20, height + 20)), draw(st.integers(-20, height + 20))
        thickness = draw(st.integers(-1, 12))  # -1: filled
        if draw(st.booleans()):
            cv2.line(page, (x0, y0), (x1, y1), ink, max(1, thickness))
        else:
            cv2.rectangle(page, (x0, y0), (x1, y1), ink, thickness or 1)
    return page


@FUZZ
@given(scribbles())
def test_scribbles_are_searched_into_boxes_that_fit(page):
    try:
        assert_boxes_fit(find_digits(page), page)
    except TooManyDigitsError:
        pass


@pytest.fixture(scope="module")
def cnn_and_check(cnn_digit_check):
    """The committed CNN and its digit check: the apps' path, marks checked and the rules applied."""
    return load_model(DEFAULT_MODEL_DIR / "cnn.keras"), cnn_digit_check


@settings(
    FUZZ,
    max_examples=30,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(page=st.one_of(scribbles(), hnp.arrays(DTYPES, ODD_SHAPES)))
def test_reading_anything_gives_one_prediction_per_box_or_a_clear_error(cnn_and_check, page):
    try:
        reading = read_digits(page, *cnn_and_check)
    except (ImageArrayError, TooManyDigitsError):
        return
    assert len(reading.boxes) == len(reading.predictions)
    assert (
        len(reading.text)
        == len(reading.digits)
        == sum(p.status is not Status.NOT_A_DIGIT for p in reading.predictions)
    )
    for prediction in reading.predictions:
        assert prediction.model_input.shape == (28, 28) and abs(prediction.probabilities.sum() - 1) < 1e-3
        assert not prediction.doubt or prediction.status is Status.UNSURE


def test_the_fuzzed_patterns_include_too_many_digits():
    # the property tests above accept TooManyDigitsError: make sure it is a real outcome, not a blanket pass
    with pytest.raises(TooManyDigitsError):
        find_digits(bar_code(400))
