"""decode_image and read_image_file: image formats, and one clear message per kind of bad file."""

import io
import subprocess
import sys
from pathlib import Path

import digitkit.images
import numpy as np
import pytest
from digitkit import MAX_SIDE, ImageReadError, decode_image, find_digits, read_image_file
from digitkit.images import first_page_note
from digitkit.pixels import WORK_PIXELS
from hostile_files import FLOAT, black_png, exif_block, icon_holding, orientation_entry, photoshop_gray
from PIL import Image
from testdata.rows import digit_drawing, png_claiming_size, render_row


def encoded(image: Image.Image, image_format: str = "PNG", **options) -> bytes:
    """The bytes of `image` saved in `image_format`."""
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def test_gray_png_of_a_real_digit_decodes_to_bgr():
    drawing = digit_drawing(4, dark_ink=True)
    image = decode_image(encoded(Image.fromarray(drawing)), "four.png")
    assert image.shape == (*drawing.shape, 3) and image.dtype == np.uint8
    assert np.array_equal(image[:, :, 0], drawing)


def test_colour_channels_come_back_in_opencv_order():
    red = Image.new("RGB", (4, 3), (255, 0, 0))
    assert decode_image(encoded(red), "red.png")[0, 0].tolist() == [0, 0, 255]


def test_transparent_background_becomes_white_paper():
    rgba = Image.new("RGBA", (5, 5), (0, 0, 0, 0))
    rgba.putpixel((2, 2), (0, 0, 0, 255))
    image = decode_image(encoded(rgba), "ink.png")
    assert image[0, 0].tolist() == [255, 255, 255]
    assert image[2, 2].tolist() == [0, 0, 0]


@pytest.mark.parametrize("image_format", ["JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_common_formats_decode(image_format):
    drawing = Image.fromarray(digit_drawing(7))
    image = decode_image(encoded(drawing, image_format), f"seven.{image_format.lower()}")
    assert image.shape == (280, 280, 3)
    assert np.abs(image[:, :, 1].astype(int) - np.asarray(drawing)).mean() < 8


def test_16_bit_png_is_scaled_to_8_bits():
    values = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600).astype(np.uint16)
    image = decode_image(encoded(Image.fromarray(values)), "deep.png")
    assert image.dtype == np.uint8
    assert image.min() == 0 and image.max() == 255


def test_exif_rotation_of_phone_photos_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    photo = encoded(Image.new("RGB", (40, 20), (200, 200, 200)), "JPEG", exif=exif)
    assert decode_image(photo, "phone.jpg").shape == (40, 20, 3)


def test_empty_file_is_reported_by_name():
    with pytest.raises(ImageReadError, match=r"^empty\.png: the file is empty$"):
        decode_image(b"", "empty.png")


def test_text_file_is_not_an_image():
    with pytest.raises(ImageReadError, match=r"^notes\.txt: not an image"):
        decode_image(b"these are not pixels\n" * 10, "notes.txt")


def test_truncated_file_is_reported_as_corrupt():
    whole = encoded(Image.fromarray(digit_drawing(3)))
    with pytest.raises(ImageReadError, match=r"^cut\.png: the image is corrupt or truncated"):
        decode_image(whole[: len(whole) // 2], "cut.png")


def test_decompression_bomb_is_refused_from_its_header():
    with pytest.raises(ImageReadError, match=r"^bomb\.png: the image is too large \(9000x9000 pixels"):
        decode_image(png_claiming_size(9_000, 9_000), "bomb.png")
    # far larger ones are stopped by Pillow's own check while it reads the header
    with pytest.raises(ImageReadError, match=r"^bomb\.png: the image is too large"):
        decode_image(png_claiming_size(50_000, 50_000), "bomb.png")


@pytest.mark.parametrize(("width", "height"), [(1, 39_000_000), (1, 4_000_000), (20_001, 10)])
def test_extreme_shapes_are_refused_from_their_header(width, height):
    with pytest.raises(ImageReadError) as caught:
        decode_image(png_claiming_size(width, height), "strip.png")
    assert str(caught.value) == (
        f"strip.png: the image is too long ({width}x{height} pixels; at most {MAX_SIDE} on a side)"
    )


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_big_images_are_decoded_shrunk_to_the_size_digitkit_works_at(image_format):
    photo = Image.new("RGB", (4000, 3000), (200, 200, 200))
    photo.paste((0, 0, 0), (1000, 1000, 1100, 2000))  # a dark bar, 100 x 1000
    image = decode_image(encoded(photo, image_format), f"big.{image_format.lower()}")
    height, width = image.shape[:2]
    assert height * width <= WORK_PIXELS and abs(width / height - 4 / 3) < 0.01
    scale = width / 4000
    bar = image[round(1500 * scale), round(1050 * scale)]
    assert bar.max() < 60 and image[10, 10].min() > 180  # still the same picture


def test_thin_strokes_survive_shrinking_a_big_black_and_white_scan():
    scan = Image.new("1", (6000, 3000), 1)
    for x in range(100, 6000, 400):
        scan.paste(0, (x, 0, x + 2, 3000))  # 2-pixel lines
    image = decode_image(encoded(scan), "scan.png")
    assert image.shape[0] * image.shape[1] <= WORK_PIXELS
    assert (image[:, :, 0].min(axis=0) < 200).sum() >= 15  # every line still shows


def test_pixel_cap_is_checked_against_the_limit(monkeypatch):
    monkeypatch.setattr(digitkit.images, "MAX_PIXELS", 100 * 100)
    decode_image(encoded(Image.new("L", (100, 100))), "fits.png")
    with pytest.raises(ImageReadError, match="too large"):
        decode_image(encoded(Image.new("L", (101, 100))), "big.png")


def test_messages_are_one_line():
    for data in (b"", b"junk", png_claiming_size(50_000, 50_000)):
        with pytest.raises(ImageReadError) as caught:
            decode_image(data, "x.png")
        assert "\n" not in str(caught.value)


def test_read_image_file_reads_from_disk(tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(encoded(Image.fromarray(digit_drawing(9))))
    assert read_image_file(path).shape == (280, 280, 3)


def test_read_image_file_names_a_missing_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageReadError, match=f"^{missing}: file not found$"):
        read_image_file(missing)


def test_read_image_file_refuses_a_huge_file_before_reading_it(tmp_path):
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.truncate(300 * 2**20)  # sparse: 300 MB long, nothing written
    with pytest.raises(ImageReadError, match=rf"^{huge}: the file is too large \(300 MB; at most 256 MB\)$"):
        read_image_file(huge)


def test_read_image_file_refuses_a_folder(tmp_path):
    with pytest.raises(ImageReadError, match="not a file"):
        read_image_file(tmp_path)


# --- hostile and odd images (issue 22) ------------------------------------------------------------------

NOT_AN_IMAGE = "not an image (PNG, JPEG, BMP, GIF, TIFF or WebP expected)"


@pytest.mark.parametrize(
    "make",
    [
        lambda: icon_holding(black_png(4, 4)),
        lambda: encoded(Image.new("RGB", (32, 24), 200), "DDS"),
        lambda: encoded(Image.new("RGB", (32, 24), 200), "EPS"),  # opened, Pillow runs Ghostscript
        lambda: encoded(Image.new("RGB", (32, 24), 200), "TGA"),
        lambda: photoshop_gray(32, 24),
    ],
    ids=["ico", "dds", "eps", "tga", "psd"],
)
def test_formats_the_apps_do_not_list_are_not_opened(make):
    with pytest.raises(ImageReadError) as caught:
        decode_image(make(), "upload.png")
    assert str(caught.value) == f"upload.png: {NOT_AN_IMAGE}"


# In a fresh process, so that its peak memory is the decoder's alone.
DECODING_PEAK = """
import resource, sys, time
sys.path.insert(0, sys.argv[2])  # the tests' own digitkit
from digitkit.images import ImageReadError, decode_image
data = open(sys.argv[1], "rb").read()
before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
try:
    decode_image(data, "icon.png")
except ImageReadError as error:
    print(error)
print(time.perf_counter() - start)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_icon_named_png_holding_a_png_of_170_million_rows_is_refused_in_bounded_time_and_memory(tmp_path):
    path = tmp_path / "icon.png"
    path.write_bytes(icon_holding(black_png(1, 170_000_000)))  # says 16x16; 336 KB
    child = subprocess.run(
        [sys.executable, "-c", DECODING_PEAK, str(path), str(Path(digitkit.images.__file__).parents[1])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    message, seconds, growth_kib = child.stdout.strip().splitlines()[-3:]
    assert message == f"icon.png: {NOT_AN_IMAGE}"
    assert float(seconds) < 1 and int(growth_kib) < 64 * 1024  # Pillow decoded it: 7 s and 1.46 GB


def upright_test_card() -> Image.Image:
    """A 20 x 40 gray picture, dark in its top-left corner: any turn or mirror of it shows."""
    card = Image.new("L", (20, 40), 220)
    card.paste(0, (0, 0, 10, 10))
    return card


def assert_upright(image: np.ndarray) -> None:
    """The test card as it should be seen: 40 tall, 20 wide, dark only in its top-left corner."""
    assert image.shape == (40, 20, 3)
    assert image[:10, :10].mean() < 60 and image[10:, :].mean() > 150 and image[:10, 10:].mean() > 150


@pytest.mark.parametrize(
    "malformed",
    [
        (0x0200, FLOAT, 1, bytes(4)),  # a struct.error when Pillow wrote the EXIF again (a traceback)
        (0x02BC, 3, 2, b"\xe7\xce\x19\x0f"),  # a ValueError ("corrupt or truncated": a good photo refused)
        (0xB003, 6, 2, b".\x8a5N"),  # a TypeError (a traceback)
    ],
    ids=["float-tag", "xmp-as-short", "signed-bytes"],
)
def test_phone_photo_with_a_malformed_exif_tag_is_turned_upright(malformed):
    entries = [orientation_entry(6), (0x80A4, 7, 2, b"\nS/Q"), malformed, (0xC61F, 2, 8, b"\x93\xa4V\xf0")]
    stored = upright_test_card().transpose(Image.Transpose.ROTATE_90)  # held turned: orientation 6
    photo = encoded(stored, "JPEG", exif=exif_block(sorted(entries)), quality=95)
    assert_upright(decode_image(photo, "phone.jpg"))


def test_white_digit_on_a_transparent_background_is_ink():
    drawing = digit_drawing(4)  # white strokes
    white = np.full_like(drawing, 255)
    image = decode_image(encoded(Image.fromarray(np.dstack([white, white, white, drawing]), "RGBA")), "4.png")
    assert image[drawing > 200].mean() > 200 and image[drawing == 0].mean() < 50  # laid on black paper
    assert len(find_digits(image)) == 1


def test_a_hot_pixel_in_a_12_bit_scan_leaves_the_digits_readable():
    row = render_row("40213", seed=3)
    scan = (400 + row.image[:, :, 0] / 255 * 2600).astype(np.uint16)  # 12-bit values: ink 400, paper 3000
    scan[5, 5] = 65535  # one hot pixel
    image = decode_image(encoded(Image.fromarray(scan)), "scan.png")
    assert image[5, 5].tolist() == [255, 255, 255] and np.median(image) > 200  # the paper is paper again
    assert len(find_digits(image)) == 5


def test_only_the_first_page_of_a_multi_page_tiff_is_read_and_that_is_said():
    blank, digit = Image.new("L", (280, 280), 255), Image.fromarray(digit_drawing(7, dark_ink=True))
    tiff = encoded(blank, "TIFF", save_all=True, append_images=[digit])
    assert decode_image(tiff, "pages.tif").min() == 255  # the blank first page
    assert first_page_note(tiff) == " on its first page (the file has more pages; only the first is read)"
    assert first_page_note(encoded(digit, "TIFF")) == first_page_note(encoded(digit)) == ""
