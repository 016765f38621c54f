"""The Streamlit page's logic, run with Streamlit's AppTest against the committed models in models/.

The drawing canvas is a browser component; here a stand-in module returns the canvas pixels a user's
drawing would give (real MNIST digits scaled up to the 280x280 board). tests/test_streamlit_browser.py
draws with a real mouse in a real browser.
"""

from __future__ import annotations

import io
import shutil
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pytest
from digitkit.marks import DOUBT_SLASH
from digitkit.models import MODEL_DIR_VARIABLE, available_models, predict_proba
from digitkit.prediction import UNSURE_THRESHOLD, predict_drawing, prediction_from
from digitkit.preprocess import to_model_input
from digitkit.teaching import TaughtExamples
from hostile_files import FLOAT, encoded, exif_block, orientation_entry
from page_images import canvas_to_gray, enlarge, read_upload
from PIL import Image
from streamlit.testing.v1 import AppTest
from testdata.mnist import mnist_digits
from testdata.rows import bar_code, digit_drawing, png_claiming_size, render_row, stroke_image
from testdata.synthetic import non_digit_drawing, paper_photo
from testdata.writers import slanted_pool, style_drawing

pytestmark = pytest.mark.slow  # each test runs the whole page (AppTest): seconds each

APP = Path(__file__).resolve().parents[1] / "apps" / "streamlit_app.py"
MODELS = Path(__file__).resolve().parents[1] / "models"
TIMEOUT = 120  # the first run imports TensorFlow and loads a model


def board_rgba(gray: np.ndarray) -> np.ndarray:
    """What the canvas component returns for a white-on-black drawing: RGBA, opaque."""
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


class FakeCanvas:
    """Stands in for streamlit_drawable_canvas: returns a drawing for the first canvas key, then nothing."""

    def __init__(self, drawing: np.ndarray | None) -> None:
        self.drawing = drawing
        self.keys: list[str] = []
        self.stroke_widths: list[int] = []

    def st_canvas(self, **kwargs):
        self.keys.append(kwargs["key"])
        self.stroke_widths.append(kwargs["stroke_width"])
        fresh = kwargs["key"] != self.keys[0]  # "Clear" mounts a canvas under a new key: it is empty
        image = None if self.drawing is None or fresh else board_rgba(self.drawing)
        return types.SimpleNamespace(image_data=image)


@pytest.fixture(autouse=True)
def _repo_models(monkeypatch):
    """Every test uses the committed models unless it says otherwise."""
    monkeypatch.delenv(MODEL_DIR_VARIABLE, raising=False)


def run_app(monkeypatch, drawing: np.ndarray | None = None) -> tuple[AppTest, FakeCanvas]:
    """Run the page with the canvas returning `drawing` (uint8 white on black), or the real component."""
    fake = None
    if drawing is not None:
        fake = FakeCanvas(drawing)
        module = types.ModuleType("streamlit_drawable_canvas")
        module.st_canvas = fake.st_canvas
        monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at, fake


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in at.get(kind)]


def test_empty_canvas_asks_for_a_digit_instead_of_predicting(monkeypatch):
    at, _ = run_app(monkeypatch)  # the real canvas component, which starts empty
    assert any("Draw a digit" in info.value for info in at.info)
    assert not [s for s in texts(at, "subheader") if s.startswith(("Prediction", "Not sure"))]
    assert not at.error


def test_blank_board_counts_as_empty(monkeypatch):
    at, _ = run_app(monkeypatch, np.zeros((280, 280), np.uint8))
    assert any("Draw a digit" in info.value for info in at.info)
    assert not texts(at, "subheader")


@pytest.mark.parametrize("label", range(10))
def test_drawn_digit_is_predicted_with_confidence_chart_and_input(monkeypatch, label):
    at, _ = run_app(monkeypatch, digit_drawing(label, 280))
    assert texts(at, "subheader") == [f"Prediction: {label}"]
    confidence = [m for m in texts(at, "markdown") if m.startswith("Confidence")]
    assert len(confidence) == 1
    shown = confidence[0].split("**")[1]
    assert shown == "over 99.9%" or float(shown.rstrip("%")) >= UNSURE_THRESHOLD * 100
    assert len(at.get("vega_lite_chart")) == 1  # the bar chart of the ten probabilities
    images = at.get("image")
    assert len(images) == 1 and "28x28" in images[0].proto.imgs[0].caption
    assert not at.error


@pytest.mark.parametrize("glyph", ["A", "smiley", "#"])
def test_a_drawing_that_is_not_a_digit_says_so(monkeypatch, glyph):
    at, _ = run_app(monkeypatch, non_digit_drawing(glyph, seed=7))
    assert texts(at, "subheader") == ["Not a digit"]
    assert any("names none" in m for m in texts(at, "markdown"))
    assert not at.error


def test_marks_that_are_not_digits_are_left_out_of_an_uploaded_number(monkeypatch):
    photo = paper_photo("4207", seed=21, kind="ruled", extras="No. ")
    at = upload(monkeypatch, "number.jpg", encode(photo.image, ".jpg"))
    assert texts(at, "subheader") == ["Read: 4207"]
    caption = at.get("image")[0].proto.imgs[0].caption  # the annotated photo, then what the model saw
    assert "that are not digits (grey, x) left out" in caption


def test_a_doubtful_digit_of_an_uploaded_number_is_shown_unsure_not_dropped(monkeypatch):
    # real 1s from the 5% that lean most: the last one leans like a slash, so it is doubtful, not left out
    images, labels = mnist_digits()
    photo = paper_photo("611", seed=0, digits=slanted_pool(images.reshape(-1, 28, 28), labels))
    at = upload(monkeypatch, "slanted.jpg", encode(photo.image, ".jpg"))
    assert texts(at, "subheader") == ["Read: 611 (not sure of the 3rd digit)"]
    assert any("Digit 3 (read as 1) is unclear" in w and DOUBT_SLASH in w for w in texts(at, "warning"))
    caption = at.get("image")[0].proto.imgs[0].caption
    assert (
        "3 digits" in caption and "confidence in the whole number" not in caption
    )  # it leaves the doubt out


def test_chart_shows_the_probabilities_the_answer_comes_from(monkeypatch, best_model):
    from digitkit.models import DEFAULT_MODEL_DIR
    from digitkit.novelty import load_digit_check

    drawing = digit_drawing(3, 280, index=5)
    check = load_digit_check(best_model, next(iter(available_models(DEFAULT_MODEL_DIR).values())))
    expected = predict_drawing(best_model, drawing, check).probabilities  # the styles read (novelty.py)
    model_own = predict_proba(best_model, to_model_input(drawing, invert=False).reshape(1, -1))[0]
    assert expected.argmax() == model_own.argmax() == 3
    at, _ = run_app(monkeypatch, drawing)
    assert texts(at, "subheader") == [prediction_from(expected, None).headline]
    chart = at.get("vega_lite_chart")[0].proto
    table = pa.ipc.open_stream(chart.datasets[0].data.data).read_all().to_pandas()
    assert table["digit"].tolist() == [str(d) for d in range(10)]
    np.testing.assert_allclose(table["probability"].to_numpy(), expected, rtol=1e-4, atol=1e-6)


def test_unsure_drawing_says_not_sure_with_the_top_candidates(monkeypatch, best_model):
    # The real digits the model is least sure of, drawn on the board: the first under the threshold.
    images, labels = mnist_digits()
    confidence = predict_proba(best_model, images.reshape(len(images), -1) / 255.0).max(axis=1)
    unsure = None
    for index in np.argsort(confidence)[:50]:
        drawing = cv2.resize(images[index], (280, 280), interpolation=cv2.INTER_LINEAR)
        prediction = predict_drawing(best_model, drawing)
        if not prediction.sure:
            unsure = drawing, prediction.probabilities
            break
    assert unsure is not None, "no real digit the model is unsure of among its 50 least sure"
    drawing, probabilities = unsure
    at, _ = run_app(monkeypatch, drawing)
    (heading,) = texts(at, "subheader")
    assert heading.startswith("Not sure: ") and "Prediction" not in heading
    first, second = np.argsort(probabilities)[::-1][:2]
    assert heading.startswith(f"Not sure: {first} ({int(probabilities[first] * 100)}%) or {second} ")
    assert any("does not claim an answer" in m for m in texts(at, "markdown"))
    assert len(at.get("image")) == 1  # the 28x28 input is shown, so the user sees why


def test_clear_button_mounts_an_empty_canvas(monkeypatch):
    at, fake = run_app(monkeypatch, digit_drawing(7, 280))
    assert texts(at, "subheader") == ["Prediction: 7"]
    at.button[0].click().run()
    assert fake.keys[-1] != fake.keys[0]
    assert any("Draw a digit" in info.value for info in at.info)
    assert not texts(at, "subheader")


def test_stroke_width_slider_sets_the_pen(monkeypatch):
    at, fake = run_app(monkeypatch, digit_drawing(1, 280))
    assert fake.stroke_widths[-1] == at.sidebar.slider[0].value
    at.sidebar.slider[0].set_value(24).run()
    assert fake.stroke_widths[-1] == 24


def test_model_picker_offers_the_committed_models_best_first(monkeypatch):
    at, _ = run_app(monkeypatch, digit_drawing(4, 280))
    picker = at.sidebar.selectbox[0]
    committed = list(available_models(MODELS))
    labels = {"ensemble": "Ensemble", "distilled": "Distilled CNN", "cnn": "CNN", "mlp": "MLP"}
    assert picker.options == [labels[n] for n in committed]
    assert picker.value == committed[0]


def test_default_model_gives_way_to_the_next_that_loads_and_a_broken_one_picked_says_so(
    monkeypatch, tmp_path
):
    # A folder with three models: the best (the ensemble) has a broken member, the others are real models.
    real = MODELS / "cnn.keras"
    shutil.copy(real, tmp_path / "cnn.keras")
    shutil.copy(real, tmp_path / "mlp.keras")
    (tmp_path / "ensemble").mkdir()
    member = tmp_path / "ensemble" / "cnn_seed43.keras"
    member.write_bytes(real.read_bytes()[:1000])  # truncated
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path))
    at, _ = run_app(monkeypatch, digit_drawing(0, 280))
    assert at.sidebar.selectbox[0].options == ["Ensemble", "CNN", "MLP"]
    assert at.sidebar.selectbox[0].value == "cnn"  # the default: the best model that loads
    assert not at.error and texts(at, "subheader") == ["Prediction: 0"]
    (warning,) = texts(at, "warning")
    assert warning.startswith(f"The Ensemble model could not be loaded ({member}: not a readable Keras model")
    assert warning.endswith("Using the CNN model instead.")
    at.sidebar.selectbox[0].select("ensemble").run()  # picked by hand: why it cannot be used
    assert len(at.error) == 1 and "could not be loaded from ensemble" in at.error[0].value
    assert "Pick another model" in at.error[0].value
    at.sidebar.selectbox[0].select("mlp").run()
    assert not at.exception and not at.error and not at.warning
    assert texts(at, "subheader") == ["Prediction: 0"]


def test_damaged_digit_check_statistics_leave_the_page_working_unchecked(monkeypatch, tmp_path):
    shutil.copy(MODELS / "mlp.keras", tmp_path / "mlp.keras")
    (tmp_path / "novelty.npz").write_bytes((MODELS / "novelty.npz").read_bytes()[:5000])  # truncated
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path))
    at, _ = run_app(monkeypatch, digit_drawing(3, 280))
    assert len(at.tabs) == 2 and not at.error
    assert any("no *Not a digit* check" in caption for caption in texts(at, "caption"))
    assert texts(at, "subheader")[0].startswith(("Prediction:", "Not sure:"))


def test_a_model_without_its_digit_check_still_reads_and_says_so(monkeypatch, tmp_path):
    shutil.copy(MODELS / "cnn.keras", tmp_path / "cnn.keras")  # no novelty.npz beside it
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path))
    at, _ = run_app(monkeypatch, non_digit_drawing("#", seed=7))
    assert any("no *Not a digit* check" in caption for caption in texts(at, "caption"))
    assert texts(at, "subheader")[0].startswith(("Prediction:", "Not sure:"))  # unchecked: a digit is named
    assert not at.error


def test_missing_models_get_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path))
    at, _ = run_app(monkeypatch, digit_drawing(2, 280))
    assert len(at.error) == 1 and "No trained model found" in at.error[0].value
    assert not texts(at, "subheader")


def test_unreadable_model_file_gets_a_clear_message(monkeypatch, tmp_path):
    (tmp_path / "mlp.keras").write_text("this is not a Keras model")
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path))
    at, _ = run_app(monkeypatch, digit_drawing(2, 280))
    assert len(at.error) == 1
    assert "could not be loaded from mlp.keras" in at.error[0].value
    assert "Traceback" not in at.error[0].value


# --- uploads -------------------------------------------------------------------------------------------


def encode(image: np.ndarray, ext: str) -> bytes:
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    return buffer.tobytes()


def upload(monkeypatch, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at, _ = run_app(monkeypatch)
    at.file_uploader[0].upload(name, data, mime).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(
    ("text", "ext", "dark_ink"),
    [("40213", ".png", True), ("7859", ".jpg", True), ("316", ".png", False)],
    ids=["png-dark-ink", "jpeg-photo", "light-ink-on-dark"],
)
def test_uploaded_row_is_read_left_to_right(monkeypatch, text, ext, dark_ink):
    row = render_row(text, dark_ink=dark_ink, seed=3)
    at = upload(
        monkeypatch, f"row{ext}", encode(row.image, ext), "image/jpeg" if ext == ".jpg" else "image/png"
    )
    assert f"Read: {text}" in texts(at, "subheader")
    images = at.get("image")
    assert f"{len(text)} digits, left to right" in images[0].proto.imgs[0].caption
    assert len(images) == 1 + len(text)  # the annotated photo and each digit's 28x28 input
    assert not at.error


def test_upload_reading_holds_what_the_model_saw_and_an_enlarged_annotated_copy(best_model):
    row = render_row("52", seed=1)
    upload_reading = read_upload(best_model, encode(row.image, ".png"), "row.png")
    reading = upload_reading.reading
    assert reading.text == "52" and reading.boxes[0].x < reading.boxes[1].x
    for box, prediction in zip(reading.boxes, reading.predictions, strict=True):
        # the input shown is the one the model gave these probabilities for
        assert prediction.model_input.shape == (28, 28) and box.crop.shape == (box.h, box.w)
        again = predict_proba(best_model, prediction.model_input.reshape(1, -1))[0]
        np.testing.assert_allclose(again, prediction.probabilities, atol=1e-5)
    height, width = upload_reading.annotated.shape[:2]
    scale = width / row.image.shape[1]
    assert scale == 4 and abs(height - row.image.shape[0] * scale) <= 1  # small photos: enlarged 4x at most


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("notes.png", lambda: b"these are my notes, not a picture\n", "not an image"),
        ("empty.png", lambda: b"", "the file is empty"),
        ("cut.png", lambda: png_bytes(Image.new("L", (400, 300), 200))[:300], "corrupt or truncated"),
        ("bomb.png", lambda: png_bytes(Image.new("1", (9000, 9000))), "too large"),
    ],
    ids=["not-an-image", "empty", "truncated", "decompression-bomb"],
)
def test_bad_upload_gets_a_clear_message(monkeypatch, name, make, message):
    at = upload(monkeypatch, name, make())
    assert len(at.error) == 1 and message in at.error[0].value and name in at.error[0].value
    assert "Traceback" not in at.error[0].value
    assert not [s for s in texts(at, "subheader") if s.startswith("Read:")]


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("strip.png", lambda: png_claiming_size(1, 39_000_000), "the image is too long (1x39000000 pixels"),
        ("bars.png", lambda: encode(bar_code(350), ".png"), "more than 300 digit-like shapes"),
    ],
    ids=["1x39000000", "350-bars"],
)
def test_hostile_upload_gets_one_clear_message(monkeypatch, name, make, message):
    at = upload(monkeypatch, name, make())
    assert len(at.error) == 1 and message in at.error[0].value and name in at.error[0].value
    assert "Something went wrong" not in at.error[0].value
    assert not [s for s in texts(at, "subheader") if s.startswith("Read:")]


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("bar.png", np.pad(np.zeros((200, 100), np.uint8), ((0, 0), (100, 100)), constant_values=255)),
        ("stroke.png", stroke_image(12, 4000)),
    ],
    ids=["solid-bar", "stroke-12x4000"],
)
def test_upload_of_no_digit_says_so_without_blaming_the_user(monkeypatch, name, image):
    at = upload(monkeypatch, name, encode(image, ".png"))
    assert not at.error  # no "Something went wrong (EmptyImageError ...)", no RecursionError
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith(f"No digits found in {name}") and "draw or upload a digit first" not in warning
    assert not [s for s in texts(at, "subheader") if s.startswith("Read:")]


def mlp_only(monkeypatch, tmp_path) -> None:
    """The page uses a models folder holding only the committed MLP and its digit check."""
    for name in ("mlp.keras", "novelty.npz"):
        shutil.copy(MODELS / name, tmp_path / name)
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path))


def test_phone_photo_with_a_malformed_exif_tag_is_read_upright(monkeypatch, tmp_path):
    mlp_only(monkeypatch, tmp_path)
    row = render_row("40213", seed=3)
    stored = Image.fromarray(row.image[:, :, ::-1]).transpose(Image.Transpose.ROTATE_90)  # held turned
    exif = exif_block(
        [orientation_entry(6), (0x0200, FLOAT, 1, bytes(4))]
    )  # a float where Pillow wants an int
    at = upload(monkeypatch, "phone.jpg", encoded(stored, "JPEG", quality=95, exif=exif), "image/jpeg")
    assert not at.error  # not "Something went wrong (error: required argument is not an integer)"
    assert texts(at, "subheader")[0].startswith("Read: 40213")  # upright; turned, it reads nothing like it


def test_upload_whose_first_frame_is_blank_says_only_that_frame_was_read(monkeypatch, tmp_path):
    mlp_only(monkeypatch, tmp_path)
    row = Image.fromarray(render_row("52", seed=1).image[:, :, ::-1])
    animation = encoded(Image.new("RGB", row.size, "white"), "PNG", save_all=True, append_images=[row])
    at = upload(monkeypatch, "animated.png", animation)
    (warning,) = texts(at, "warning")
    assert warning.startswith(
        "No digits found in animated.png on its first page (the file has more pages; only the first is read):"
    )


def test_a_refused_upload_replaces_the_previous_reading(monkeypatch):
    row = render_row("316", seed=3)
    at = upload(monkeypatch, "row.png", encode(row.image, ".png"))
    assert "Read: 316" in texts(at, "subheader")
    at.file_uploader[0].upload("notes.png", b"not a picture", "image/png").run()
    assert len(at.error) == 1 and "notes.png: not an image" in at.error[0].value
    assert not [s for s in texts(at, "subheader") if s.startswith("Read:")]


def test_upload_without_ink_says_no_digits_found(monkeypatch):
    blank = np.full((300, 500, 3), 210, np.uint8)
    at = upload(monkeypatch, "blank.png", encode(blank, ".png"))
    assert any("No digits found" in w.value for w in at.warning)
    assert not [s for s in texts(at, "subheader") if s.startswith("Read:")]


# --- the helpers behind the page -----------------------------------------------------------------------


def test_canvas_to_gray_keeps_ink_and_blacks_out_transparency():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[1, 1] = (255, 255, 255, 255)  # ink
    rgba[2, 2] = (255, 255, 255, 0)  # transparent: nothing drawn
    gray = canvas_to_gray(rgba)
    assert gray.dtype == np.uint8 and gray.shape == (4, 4)
    assert gray[1, 1] == 255 and gray[2, 2] == 0 and gray.sum() == 255


def test_enlarge_makes_square_pixels():
    field = np.zeros((28, 28), np.float32)
    field[3, 5] = 1.0
    big = enlarge(field, scale=4)
    assert big.shape == (112, 112) and big.dtype == np.uint8
    assert big[12:16, 20:24].min() == 255 and big.sum() == 255 * 16


# --- teaching the model your handwriting ----------------------------------------------------------------

FLAG = "1 with a flag"  # drawings of testdata.writers, chosen by how the CNN reads them (conftest.flag_seeds)


def run_with_cnn(monkeypatch, drawing: np.ndarray, model_dir: Path) -> tuple[AppTest, FakeCanvas]:
    """The page with the CNN picked in the sidebar, its models from `model_dir` (conftest's
    unforeseen_model_dir: the committed CNN with no style read as its digit, so its 1s with a flag are
    misread as before any teaching)."""
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(model_dir))
    at, fake = run_app(monkeypatch, drawing)
    at.selectbox(key="model").set_value("cnn").run()
    assert not at.exception, [e.value for e in at.exception]
    return at, fake


def learned(at: AppTest) -> str:
    """The count of taught examples the sidebar shows."""
    (line,) = [m for m in texts(at, "markdown") if m.startswith("Learned from your examples")]
    return line.split("**")[1]


def test_a_misread_one_taught_is_read_as_one_from_the_next_drawing(
    monkeypatch, flag_seeds, unforeseen_model_dir
):
    at, fake = run_with_cnn(monkeypatch, style_drawing(FLAG, flag_seeds["taught"]), unforeseen_model_dir)
    assert texts(at, "subheader")[0].startswith("Not sure: 7")
    assert learned(at) == "no examples"
    at.button(key="teach-1").click().run()
    assert learned(at) == "1 example (1: 1)"
    assert texts(at, "subheader")[0] == "Prediction: 1"  # the drawing taught is now read as taught
    fake.drawing = style_drawing(FLAG, flag_seeds["misread"])  # the next drawing, misread before any teaching
    at.run()
    assert texts(at, "subheader")[0] == "Prediction: 1"
    assert any("Read from your examples" in c for c in texts(at, "caption"))
    assert not at.error


def test_an_example_taught_by_mistake_is_undone_and_all_can_be_forgotten(
    monkeypatch, flag_seeds, unforeseen_model_dir
):
    at, _ = run_with_cnn(monkeypatch, style_drawing(FLAG, flag_seeds["misread"]), unforeseen_model_dir)
    untaught = texts(at, "subheader")[0]
    assert untaught == "Prediction: 7"
    at.button(key="teach-1").click().run()
    at.button(key="teach-9").click().run()  # a slip of the mouse
    assert learned(at) == "2 examples (1: 1, 9: 1)"
    assert texts(at, "subheader")[0] == "Prediction: 9"
    undo = [b for b in at.button if b.label == "Undo"][0]
    undo.click().run()
    assert learned(at) == "1 example (1: 1)" and texts(at, "subheader")[0] == "Prediction: 1"
    [b for b in at.button if b.label == "Forget my examples"][0].click().run()
    assert learned(at) == "no examples" and texts(at, "subheader")[0] == untaught
    assert all(b.disabled for b in at.button if b.label in ("Undo", "Forget my examples"))


def test_examples_are_restored_from_their_file_and_a_bad_file_is_named(
    monkeypatch, flag_seeds, unforeseen_model_dir
):
    at, _ = run_with_cnn(monkeypatch, style_drawing(FLAG, flag_seeds["misread"]), unforeseen_model_dir)
    examples = TaughtExamples().add(
        to_model_input(style_drawing(FLAG, flag_seeds["taught"])).reshape(28, 28), 1
    )
    at.file_uploader(key="examples_file").upload(
        "my_digit_examples.npz", examples.to_bytes(), "application/zip"
    ).run()
    assert not at.exception, [e.value for e in at.exception]
    assert learned(at) == "1 example (1: 1)" and texts(at, "subheader")[0] == "Prediction: 1"
    assert not at.error
    at.file_uploader(key="examples_file").upload("notes.npz", b"not my examples", "application/zip").run()
    (error,) = at.error
    assert error.value.startswith("Could not restore examples from notes.npz: not a file of taught examples")
    assert "\n" not in error.value
    assert learned(at) == "1 example (1: 1)"  # the examples taught are kept


def test_teaching_is_offered_only_with_a_drawing(monkeypatch, unforeseen_model_dir):
    at, _ = run_app(monkeypatch, np.zeros((280, 280), np.uint8))
    assert not [b for b in at.button if b.key and b.key.startswith("teach-")]
    at, _ = run_with_cnn(monkeypatch, digit_drawing(3, 280), unforeseen_model_dir)
    assert [b.label for b in at.button if b.key and b.key.startswith("teach-")] == [str(d) for d in range(10)]
