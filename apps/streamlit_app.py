"""Handwritten digit recognition in the browser: draw a digit, or upload a photo of a row of digits.

Run from the repository root:  streamlit run apps/streamlit_app.py
The models come from models/ next to apps/ (or the folder in $DIGIT_MODEL_DIR).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from digitkit.images import ImageReadError, first_page_note
from digitkit.models import (
    MODEL_DIR_VARIABLE,
    ModelLoadError,
    available_models,
    model_dir,
    model_version,
)
from digitkit.novelty import load_checked_model
from digitkit.prediction import UNSURE_THRESHOLD, Prediction, Status, percent
from digitkit.preprocess import has_ink
from digitkit.segment import TooManyDigitsError
from digitkit.teaching import (
    NEEDS_CHECK,
    TaughtExamples,
    TeachingFileError,
    from_example_words,
    predict_with_examples,
)
from page_images import canvas_to_gray, enlarge, read_upload
from streamlit_drawable_canvas import st_canvas

CANVAS_SIZE = 280  # 10x the model's 28x28 field
DEFAULT_STROKE = 18  # a digit drawn ~200 px tall shrinks to 20 px: an 18 px stroke becomes MNIST's ~2 px
MODEL_LABELS = {"ensemble": "Ensemble", "distilled": "Distilled CNN", "cnn": "CNN", "mlp": "MLP"}
MAX_INPUTS_SHOWN = 40  # "What the model saw" shows at most this many of an upload's digits
EXAMPLES_FILE = "my_digit_examples.npz"  # the name the taught examples download under

# A file over server.maxUploadSize (.streamlit/config.toml) is refused by the browser: the uploader shows
# it with an error, but keeps the previous file uploaded and the app is not told, so the page would keep
# showing the previous file's reading under the refused one. This script, run in the page, removes the
# previous file whenever the newest one in the uploader was refused; the app then reruns without a file.
DROP_FILE_BEFORE_A_REFUSED_ONE = """<script>
(() => {
  if (window.digitAppWatchesUploads) return;
  window.digitAppWatchesUploads = true;
  const refused = (chip) => chip.querySelector('[data-testid="stFileChipIconError"]') !== null;
  new MutationObserver(() => {
    for (const list of document.querySelectorAll('[data-testid="stFileChips"]')) {
      const chips = [...list.querySelectorAll('[data-testid="stFileChip"]')];
      if (chips.length < 2 || !refused(chips[chips.length - 1])) continue;
      for (const chip of chips.filter((chip) => !refused(chip))) {
        chip.querySelector('[data-testid="stFileChipDeleteBtn"] button')?.click();
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
})();
</script>"""

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner="Loading the model…", max_entries=3)
def cached_model(path: str, modified: float):
    """One loaded model per file (and version of it), with its "not a digit" check (None when its
    statistics are missing or out of date), shared by every visitor."""
    model, check, why = load_checked_model(path)
    if why:
        log.warning(why)
    return model, check


def show_input(field: np.ndarray, caption: str = "What the model sees (28x28)") -> None:
    """The 28x28 input the model received, with square pixels."""
    st.image(enlarge(field), caption=caption)


def show_probabilities(probabilities: np.ndarray) -> None:
    """A bar chart of the ten probabilities."""
    table = pd.DataFrame({"digit": [str(d) for d in range(10)], "probability": np.asarray(probabilities)})
    st.bar_chart(table, x="digit", y="probability", height=220)


def show_prediction(prediction: Prediction) -> None:
    """`Prediction: 7` with its confidence, `Not sure` with the top candidates, or `Not a digit`."""
    st.subheader(prediction.headline, anchor=False)
    if prediction.status is Status.NOT_A_DIGIT:
        st.markdown(
            "This looks like none of the digits the model learned (its features are far from every digit's),"
            " so it names none. Draw one digit, 0 to 9."
        )
    elif prediction.sure:
        confidence = "over 99.9%" if prediction.confidence > 0.999 else f"{prediction.confidence:.1%}"
        st.markdown(f"Confidence **{confidence}**")
    else:
        st.markdown(
            f"The model's best guess is only {percent(prediction.confidence)} likely (under "
            f"{UNSURE_THRESHOLD:.0%}), so it does not claim an answer. Try drawing it larger or clearer."
        )


def clear_canvas() -> None:
    """A new canvas key mounts a fresh, empty canvas."""
    st.session_state.canvas_id = st.session_state.get("canvas_id", 0) + 1


def taught_examples() -> TaughtExamples:
    """This visitor's taught examples: kept while the page is open (and in the file they download)."""
    return st.session_state.setdefault("examples", TaughtExamples())


def teach(digit: int) -> None:
    """The drawing on the canvas is `digit`: keep it as an example (a button's callback, before the rerun)."""
    drawn = st.session_state.get("drawn_input")
    if drawn is not None:
        try:
            st.session_state.examples = taught_examples().add(drawn, digit)
        except ValueError as error:
            st.session_state.teaching_error = str(error)


def undo_example() -> None:
    """Take back the last example taught (one taught by mistake)."""
    st.session_state.examples = taught_examples().undo()


def forget_examples() -> None:
    """Drop every example: the model reads as it did before any teaching."""
    st.session_state.examples = TaughtExamples()


def teaching_row() -> None:
    """A row of digit buttons: the user says which digit the drawing is."""
    st.markdown("Wrong, or refused? **Teach: this is a …**")
    for digit, column in enumerate(st.columns(10, gap="small")):
        with column:
            st.button(str(digit), key=f"teach-{digit}", on_click=teach, args=(digit,), width="stretch")
    error = st.session_state.pop("teaching_error", None)
    if error:
        st.error(f"Not taught: {error}.")


def examples_section(check) -> None:
    """The taught examples: how many, undo, forget, and the file to keep them or restore them from."""
    st.markdown("**Teach it your handwriting**")
    if check is None:
        st.caption(NEEDS_CHECK)
    examples = taught_examples()
    st.markdown(f"Learned from your examples: **{examples.summary}**")
    left, right = st.columns(2)
    with left:
        st.button("Undo", on_click=undo_example, disabled=not len(examples), icon=":material/undo:")
    with right:
        st.button("Forget my examples", on_click=forget_examples, disabled=not len(examples))
    st.download_button(
        "Download my examples",
        examples.to_bytes(),
        file_name=EXAMPLES_FILE,
        mime="application/octet-stream",
        disabled=not len(examples),
        icon=":material/download:",
    )
    upload = st.file_uploader("Restore examples from a file", type=["npz"], key="examples_file")
    if upload is not None and st.session_state.get("restored_file") != upload.file_id:
        try:
            st.session_state.examples = TaughtExamples.from_bytes(upload.getvalue(), upload.name)
        except TeachingFileError as error:
            st.error(
                f"Could not restore examples from {upload.name}: {str(error).removeprefix(f'{upload.name}: ')}."
            )
            return
        st.session_state.restored_file = upload.file_id
        st.rerun()  # the count and the buttons above show the restored examples
    st.caption(
        "Your examples stay in this page while it is open, and in the file you download: the model itself"
        " is not changed."
    )


def drawing_section(model, check, stroke_width: int) -> None:
    """The canvas on the left; the prediction, its probabilities, the 28x28 input and the digit buttons
    to teach it on the right."""
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown("Draw one digit with the mouse, a finger or a pen:")
        result = st_canvas(
            stroke_width=stroke_width,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS_SIZE,
            width=CANVAS_SIZE,
            drawing_mode="freedraw",
            update_streamlit=True,
            return_image_data=True,
            key=f"canvas-{st.session_state.get('canvas_id', 0)}",
        )
        st.button("Clear", on_click=clear_canvas, icon=":material/delete:")
    with right:
        rgba = result.image_data
        gray = None if rgba is None else canvas_to_gray(rgba)
        if gray is None or not has_ink(gray, invert=False):
            st.session_state.drawn_input = None
            st.info("Draw a digit (0-9) on the black canvas: the prediction appears here.")
            return
        examples = taught_examples()
        prediction, example = predict_with_examples(model, gray, check, examples)
        st.session_state.drawn_input = prediction.model_input
        show_prediction(prediction)
        if example is not None:
            st.caption(from_example_words(examples, example))
        show_probabilities(prediction.probabilities)
        show_input(prediction.model_input)
        if check is not None:
            teaching_row()


@st.cache_data(max_entries=8, show_spinner="Reading the digits…")
def cached_reading(data: bytes, name: str, model_path: str, modified: float):
    """Reading an upload is cached, so drawing on the canvas does not read the photo again."""
    model, check = cached_model(model_path, modified)
    return read_upload(model, data, name, check)


def upload_section(model_path: Path, modified: float) -> None:
    """Upload a photo or scan; show it with a box and label per digit, and the number read."""
    upload = st.file_uploader(
        "A photo or scan of one digit or a row of digits (PNG or JPEG), dark ink on light paper or light on dark",
        type=["png", "jpg", "jpeg"],
    )
    st.html(DROP_FILE_BEFORE_A_REFUSED_ONE, unsafe_allow_javascript=True)
    if upload is None:
        return
    try:
        upload_reading = cached_reading(upload.getvalue(), upload.name, str(model_path), modified)
    except ImageReadError as error:
        st.error(f"Could not read this file. {error}")
        return
    except TooManyDigitsError as error:
        st.error(f"Could not read the digits in {upload.name}: {error}.")
        return
    reading = upload_reading.reading
    if not reading.boxes:
        st.warning(
            f"No digits found in {upload.name}{first_page_note(upload.getvalue())}: nothing in it stands out"
            " as a handwritten digit. Upload a photo with dark digits on light paper (or light on dark),"
            " filling a good part of the picture."
        )
        return
    digits = reading.digits
    if not digits:
        st.warning(
            f"No digits found in {upload.name}{first_page_note(upload.getvalue())}: none of its marks looks"
            " like a digit."
        )
    else:
        st.subheader(f"Read: {reading.summary}", anchor=False)
    for position, prediction in enumerate(digits, start=1):
        if not prediction.sure:
            st.warning(f"Digit {position} (read as {prediction.digit}) is unclear. {prediction.headline}")
    count, skipped = len(digits), len(reading.predictions) - len(digits)
    caption = f"{upload.name}: {count} digits, left to right"
    if digits and reading.sure:  # (a doubtful digit's probability leaves out the rules' doubt: not shown)
        caption += f" (the model's confidence in the whole number: {percent(reading.confidence)})"
    if skipped:
        caption += f"; {skipped} marks that are not digits (grey, x) left out"
    st.image(upload_reading.annotated, channels="BGR", caption=caption)
    with st.expander("What the model saw for each digit"):
        shown = reading.predictions[:MAX_INPUTS_SHOWN]
        if count > len(shown):
            st.caption(f"The first {len(shown)} of {count} digits.")
        columns = st.columns(min(len(shown), 8))
        for index, prediction in enumerate(shown):
            with columns[index % len(columns)]:
                caption = f"{index + 1}: {prediction.digit} ({percent(prediction.confidence)})"
                if prediction.status is Status.NOT_A_DIGIT:
                    caption = f"{index + 1}: not a digit"
                show_input(prediction.model_input, caption=caption)


def default_model(models: dict[str, Path]) -> tuple[str, list[str]]:
    """The best model that loads (the first, should none), and a line for each better one that does not."""
    skipped = []
    for name, path in models.items():
        try:
            cached_model(str(path), model_version(path))
        except ModelLoadError as error:
            skipped.append(f"The {MODEL_LABELS.get(name, name)} model could not be loaded ({error}).")
            continue
        return name, skipped
    return next(iter(models)), []


def guarded(section, *args) -> None:
    """Run a part of the page; an unexpected error becomes a short message there (logged in full)."""
    try:
        section(*args)
    except Exception as error:  # the page must never show a traceback
        log.exception("unexpected error in %s", section.__name__)
        st.error(
            f"Something went wrong ({type(error).__name__}: {error}). Clear the canvas or try another image."
        )


def main() -> None:
    st.set_page_config(page_title="Handwritten digit recognition", page_icon="✍️", layout="wide")
    st.title("Handwritten digit recognition")

    folder = model_dir()
    models = available_models(folder)
    if not models:
        st.error(
            f"No trained model found: the app needs mlp.keras, cnn.keras, distilled.keras or an ensemble/"
            f" folder of members in {folder}. "
            f"Train them with the notebook (or set {MODEL_DIR_VARIABLE} to a folder that has them)."
        )
        return

    if st.session_state.get("model") not in models:  # a new visitor: the best model that loads is the default
        st.session_state.default_model = default_model(models)
        st.session_state.model = st.session_state.default_model[0]
    with st.sidebar:
        name = st.selectbox(
            "Model",
            list(models),
            key="model",
            format_func=lambda key: MODEL_LABELS.get(key, key),
            help="The models found in models/, best first.",
        )
        stroke_width = st.slider(
            "Stroke width", 8, 32, DEFAULT_STROKE, help="Pen width on the canvas, in pixels"
        )
        st.caption(
            f"Below {UNSURE_THRESHOLD:.0%} confidence the app says *Not sure* and lists the candidates: "
            "on the validation digits, answers that unsure were wrong too often to state as fact."
        )

    path = models[name]
    modified = model_version(path)
    try:
        model, check = cached_model(str(path), modified)
    except ModelLoadError as error:
        st.error(
            f"The {MODEL_LABELS.get(name, name)} model could not be loaded from {path.name}: "
            f"{str(error).removeprefix(f'{path}: ')}. Pick another model in the sidebar."
        )
        return

    default, skipped = st.session_state.default_model
    if name == default:
        for line in skipped:
            st.warning(f"{line} Using the {MODEL_LABELS.get(name, name)} model instead.")

    draw_tab, upload_tab = st.tabs(["Draw a digit", "Read a photo"])
    with draw_tab:
        if check is None:
            st.caption(
                "This model has no *Not a digit* check (run scripts/fit_novelty.py): it names a digit for anything."
            )
        guarded(drawing_section, model, check, stroke_width)
    with st.sidebar:
        guarded(examples_section, check)
    with upload_tab:
        guarded(upload_section, path, modified)


main()
