"""Desktop digit recognition with OpenCV: draw on a board, read a camera or video live, or read an image.

python apps/opencv_app.py                     draw with the mouse; the prediction updates live
python apps/opencv_app.py --camera [INDEX]    box and read the digits a webcam sees
python apps/opencv_app.py --video FILE        the same for a video file (--headless: no window)
python apps/opencv_app.py --image FILE        print the digits read; write an annotated copy
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # errors are reported in one line of our own

import cv2  # noqa: E402
import digitkit  # noqa: E402
import numpy as np  # noqa: E402
from digitkit import DrawingBoard, ImageReadError, ModelLoadError, Prediction, TooManyDigitsError  # noqa: E402
from digitkit.annotate import colour_of  # noqa: E402
from digitkit.novelty import DigitCheck, load_checked_model  # noqa: E402
from digitkit.prediction import Status, percent  # noqa: E402

PROGRAM = "opencv_app"
WINDOW = "Digit recognition"
HELP_LINE = "draw with the mouse | c clear  m model  s save  q/Esc quit"
VIDEO_HELP_LINE = "q/Esc quit"
KEY_ESCAPE = 27
WHITE, GRAY, YELLOW = (255, 255, 255), (170, 170, 170), (0, 220, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


class AppError(Exception):
    """A problem to report to the user in one line (bad file, no display, no camera...)."""


# ---------------------------------------------------------------- models


class ModelShelf:
    """The models the tool can use, loaded on first use; `next()` moves to the next one."""

    def __init__(self, choices: Sequence[tuple[str, Path]], fall_back: bool = False) -> None:
        self.choices = list(choices)
        self.index = 0
        self.fall_back = fall_back  # the default choice: until one loads, a model that does not gives way
        self._loaded: dict[str, tuple[object, DigitCheck | None]] = {}

    @property
    def name(self) -> str:
        return self.choices[self.index][0]

    def _load(self) -> tuple[object, DigitCheck | None]:
        """The current model and its "not a digit" check, loaded now if they weren't yet (ModelLoadError
        if the model can't be; without its statistics the model is used unchecked, said in one line)."""
        name, path = self.choices[self.index]
        if name not in self._loaded:
            model, check, why = load_checked_model(path)
            if why:
                print(f"opencv_app: {why}", file=sys.stderr)
            self._loaded[name] = (model, check)
        return self._loaded[name]

    def current(self) -> object:
        """The current model (see _load). With fall_back, a model that does not load gives way to the next
        one, each said in one line on stderr, until one loads."""
        while True:
            try:
                model = self._load()[0]
            except ModelLoadError as error:
                if not self.fall_back or self.index == len(self.choices) - 1:
                    raise
                self.next()
                print(f"{PROGRAM}: {error}; trying the {self.name} model", file=sys.stderr)
                continue
            self.fall_back = False  # from now on, switching models ('m') says why it cannot
            return model

    def check(self) -> DigitCheck | None:
        """The current model's "not a digit" check, None when it has none."""
        return self._load()[1]

    def next(self) -> None:
        """Switch to the next model, round the list."""
        self.index = (self.index + 1) % len(self.choices)


def model_choices(model: str | None, model_dir: Path) -> list[tuple[str, Path]]:
    """The (name, path) models to offer, the chosen or best one first; AppError when there are none."""
    found = digitkit.available_models(model_dir)
    if model is None:
        if not found:
            expected = ", ".join(
                f"{name}/" if name == digitkit.ENSEMBLE else f"{name}.keras" for name in digitkit.MODEL_NAMES
            )
            raise AppError(f"no model found in {model_dir} (expected one of {expected})")
        return list(found.items())
    if model in digitkit.MODEL_NAMES:
        if model not in found:
            path = model_dir / (model if model == digitkit.ENSEMBLE else f"{model}.keras")
            raise AppError(f"{path}: model file not found")
        path = found[model]
        first = (model, path)
    else:
        path = Path(model)
        if not (path.is_file() or path.is_dir()):
            raise AppError(f"{path}: model file not found")
        first = (path.stem, path)
    return [first] + [(name, other) for name, other in found.items() if other.resolve() != path.resolve()]


# ---------------------------------------------------------------- display and state


def display_available() -> bool:
    """True when windows can be opened: on Linux an X server must answer at $DISPLAY."""
    if not sys.platform.startswith("linux"):
        return True
    display = os.environ.get("DISPLAY", "")
    if not display:
        return False
    host, _, number = display.rpartition(":")
    number = number.split(".")[0]
    if not number.isdigit():
        return False
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX) as connection:
                connection.settimeout(2)
                connection.connect(f"/tmp/.X11-unix/X{number}")
        else:
            socket.create_connection((host, 6000 + int(number)), timeout=2).close()
    except OSError:
        return False
    return True


def require_display() -> None:
    """AppError unless a window can be opened (Qt would abort the process without a display)."""
    if not display_available():
        raise AppError(
            "no display found (is DISPLAY set and the X server running?); use --image, or --video with --headless"
        )


def board_state(board: DrawingBoard, model_name: str, saved: Path | None) -> dict:
    """The board's state as the window shows it, for --state-file (scripts and tests)."""
    prediction = board.prediction
    return {
        "ready": True,
        "model": model_name,
        "strokes": len(board.strokes),
        "pen_down": board.drawing,
        "has_ink": board.has_ink,
        "prediction": None
        if prediction is None
        else {
            "digit": prediction.digit,
            "confidence": prediction.confidence,
            "status": prediction.status.value,
            "headline": prediction.headline,
            "top3": [[digit, probability] for digit, probability in prediction.ranked(3)],
        },
        "saved": None if saved is None else str(saved),
    }


def write_state(path: Path | None, state: dict) -> None:
    """Write a board state as JSON, atomically (nothing when no --state-file was given)."""
    if path is not None:
        digitkit.write_bytes_atomic(path, json.dumps(state, indent=2).encode())


# ---------------------------------------------------------------- drawing mode


def _shade(view: np.ndarray, top: int, bottom: int) -> None:
    """Darken a band of the view so the text on it can be read over the ink."""
    band = view[top:bottom]
    band[:] = (band * 0.35).astype(np.uint8)


def render_board_view(board: DrawingBoard, model_name: str, message: str = "") -> np.ndarray:
    """The window's picture: the ink, the prediction and top 3 on top, the model input in a corner, help below."""
    view = cv2.cvtColor(board.ink, cv2.COLOR_GRAY2BGR)
    size = board.size
    _shade(view, 0, 58)
    prediction = board.prediction
    if prediction is None:
        cv2.putText(view, f"draw a digit ({model_name})", (10, 36), FONT, 0.8, GRAY, 2, cv2.LINE_AA)
    else:
        colour = colour_of(prediction)
        headline = f"{prediction.label}  {percent(prediction.confidence)}"
        if prediction.status is Status.NOT_A_DIGIT:
            headline = "not a digit"
        cv2.putText(view, headline, (10, 40), FONT, 1.3, colour, 3, cv2.LINE_AA)
        cv2.putText(view, details_line(prediction), (200, 24), FONT, 0.45, colour, 1, cv2.LINE_AA)
        cv2.putText(view, f"model  {model_name}", (200, 46), FONT, 0.5, WHITE, 1, cv2.LINE_AA)
        corner = cv2.resize(prediction.model_input, (84, 84), interpolation=cv2.INTER_NEAREST)
        corner = cv2.cvtColor((corner * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        view[62 : 62 + 84, size - 88 : size - 4] = corner
        cv2.rectangle(view, (size - 89, 61), (size - 4, 146), YELLOW, 1)
    _shade(view, size - 28, size)
    cv2.putText(
        view, message or HELP_LINE, (8, size - 9), FONT, 0.45, YELLOW if message else WHITE, 1, cv2.LINE_AA
    )
    return view


def details_line(prediction: Prediction) -> str:
    """Beside the digit: the top 3 when sure, else the web page's words (`Not sure: 9 (94%) or 4 (5%)`);
    nothing for a drawing that is not a digit."""
    if prediction.status is Status.NOT_A_DIGIT:
        return ""
    if not prediction.sure:
        return prediction.headline
    return "top 3  " + "  ".join(f"{digit}:{percent(p)}" for digit, p in prediction.ranked(3))


def _mouse_handler(board: DrawingBoard) -> Callable[[int, int, int, int, object], None]:
    """An OpenCV mouse callback that draws on the board while the left button is down."""

    def on_mouse(event: int, x: int, y: int, flags: int, _param: object) -> None:
        if event == cv2.EVENT_LBUTTONDOWN:
            board.begin_stroke(x, y)
        elif event == cv2.EVENT_MOUSEMOVE and flags & cv2.EVENT_FLAG_LBUTTON:
            board.extend_stroke(x, y)
        elif event == cv2.EVENT_MOUSEMOVE:  # moving with the button up: its release never came, end there
            board.end_stroke()
        elif event == cv2.EVENT_LBUTTONUP:
            board.extend_stroke(x, y)
            board.end_stroke()

    return on_mouse


def switch_model(shelf: ModelShelf) -> str:
    """Move to the next model that loads; the message to show says which, or why it stayed."""
    previous = shelf.index
    shelf.next()
    try:
        shelf.current()
    except ModelLoadError as error:
        shelf.index = previous
        return f"cannot switch: {error}"
    return f"model: {shelf.name}"


def _window_closed() -> bool:
    """True once the user closed the window with its close button."""
    try:
        return cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1
    except cv2.error:
        return True


def run_drawing(shelf: ModelShelf, size: int, save_dir: Path, state_file: Path | None) -> int:
    """The drawing window's event loop; returns the exit status."""
    require_display()
    board = DrawingBoard(size)
    shelf.current()  # fail early, with one line, if the model can't be loaded
    cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)  # no Qt toolbar over the board
    cv2.setMouseCallback(WINDOW, _mouse_handler(board))
    message, message_until, saved = "", 0.0, None
    last_state = None
    while True:
        board.update_prediction(shelf.current(), shelf.name, shelf.check())
        if message and time.monotonic() > message_until:
            message = ""
        shown = board_state(board, shelf.name, saved)  # taken with the picture: the two always agree
        cv2.imshow(WINDOW, render_board_view(board, shelf.name, message))
        key = cv2.waitKey(15) & 0xFF  # shows the picture, then takes the mouse and key events
        if shown != last_state:
            write_state(state_file, shown)
            last_state = shown
        if key in (ord("q"), KEY_ESCAPE) or _window_closed():
            break
        if key == ord("c"):
            board.clear()
        elif key == ord("m"):
            message = switch_model(shelf)
        elif key == ord("s"):
            if board.has_ink:
                target = save_dir / f"digit-{datetime.now():%Y%m%d-%H%M%S}.png"
                try:
                    saved = board.save(target)
                    message = f"saved {saved}"
                except (OSError, ValueError) as error:
                    message = f"cannot save: {error}"
            else:
                message = "nothing to save: draw a digit first"
        if key in (ord("m"), ord("s")):
            message_until = time.monotonic() + 3
    cv2.destroyAllWindows()
    return 0


# ---------------------------------------------------------------- video and camera mode


def open_capture(camera: int | None, video: Path | None) -> tuple[cv2.VideoCapture, str]:
    """Open the camera or the video file; AppError in one line when it can't be read."""
    if video is not None:
        if not video.is_file():
            raise AppError(f"{video}: video file not found")
        capture = cv2.VideoCapture(str(video))
        if not capture.isOpened():
            raise AppError(f"{video}: cannot read the video (not a video, or an unsupported format)")
        return capture, str(video)
    capture = cv2.VideoCapture(camera)
    if not capture.isOpened():
        raise AppError(f"no camera found at index {camera} (or it is in use)")
    return capture, f"camera {camera}"


def run_frames(
    capture: cv2.VideoCapture, source: str, shelf: ModelShelf, headless: bool, max_frames: int | None
) -> int:
    """Read, box and label the digits in each frame; shows them live or prints them; reports the fps."""
    if not headless:
        require_display()
    model, check = shelf.current(), shelf.check()
    frames, started = 0, time.perf_counter()
    try:
        while max_frames is None or frames < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            try:
                reading, problem = digitkit.read_digits(frame, model, check), ""
            except TooManyDigitsError as error:
                reading, problem = digitkit.Reading([], []), f" ({error})"
            frames += 1
            fps = frames / max(time.perf_counter() - started, 1e-9)
            if headless:
                print(f"frame {frames}: {reading.summary or '-'}{problem}", flush=True)
                continue
            view = digitkit.annotate(frame, reading.boxes, reading.predictions, scale=1)
            cv2.putText(
                view, f"{fps:.1f} fps  {shelf.name}  {VIDEO_HELP_LINE}", (8, 22), FONT, 0.6, YELLOW, 2
            )
            cv2.imshow(WINDOW, view)
            if (cv2.waitKey(1) & 0xFF) in (ord("q"), KEY_ESCAPE) or _window_closed():
                break
    finally:
        capture.release()
        if not headless:
            cv2.destroyAllWindows()
    if frames == 0:
        raise AppError(f"{source}: no frame could be read")
    elapsed = time.perf_counter() - started
    print(f"{frames} frames from {source} at {frames / elapsed:.1f} frames per second ({shelf.name} model)")
    return 0


# ---------------------------------------------------------------- batch mode


def annotated_copy_path(image: Path, out: Path | None) -> Path:
    """Where --image writes its annotated copy: --out, or IMAGE_annotated.png; never the image itself."""
    target = out if out is not None else image.with_name(f"{image.stem}_annotated.png")
    if target.resolve() == image.resolve() or (target.exists() and os.path.samefile(target, image)):
        raise AppError(f"{target}: --out names the input image; choose another file for the annotated copy")
    return target


def printable(text: str) -> str:
    """Text any UTF-8 terminal can show: the bytes of a file name that are not UTF-8 written as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_annotated_copy(annotated: np.ndarray, target: Path, free_name: bool) -> Path:
    """Write the annotated copy to `target` (free_name: or the first free name like it); AppError if it can't."""
    try:
        if free_name:
            return digitkit.write_new_image(target, annotated)
        return digitkit.write_image(target, annotated, replace=False)
    except FileExistsError as error:
        raise AppError(
            f"{target}: already exists; choose another --out (files are never replaced)"
        ) from error
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise AppError(
            f"{target}: cannot write the annotated copy ({reason.removeprefix(f'{target}: ')})"
        ) from error


def run_image(path: Path, out: Path | None, shelf: ModelShelf) -> int:
    """Read the digits in one image: print them, the number as the last line ("611", or "611 (not sure of the
    3rd digit)" when a digit is unsure or doubtful), and write an annotated copy.

    The reading is printed before the copy is written: a copy that cannot be written loses nothing. An
    existing file is never replaced: --out must name a new file, and without --out the copy goes to
    IMAGE_annotated.png or, if that exists, IMAGE_annotated-2.png and so on.
    """
    target = annotated_copy_path(path, out)
    image = digitkit.read_image_file(path)
    reading = digitkit.read_digits(image, shelf.current(), shelf.check())
    digits = reading.digits
    skipped = len(reading.predictions) - len(digits)
    print(
        f"{len(digits)} digit(s) found in {printable(str(path))} with the {shelf.name} model"
        + (f" ({skipped} mark(s) that are not digits left out)" if skipped else "")
    )
    for position, prediction in enumerate(digits, start=1):
        said = (
            f"{prediction.digit} ({percent(prediction.confidence)})"
            if prediction.sure
            else prediction.headline
        )
        print(f"  digit {position}: {said}")
    if digits and reading.sure:  # (a doubtful digit's probability leaves out the rules' doubt: not shown)
        print(f"the model's confidence in the whole number: {percent(reading.confidence)}")
    annotated = digitkit.annotate(image, reading.boxes, reading.predictions)
    try:
        target = write_annotated_copy(annotated, target, free_name=out is None)
        print(f"annotated copy: {printable(str(target))}")
    finally:
        if reading.text:
            print(reading.summary)  # the number, last, whether or not the copy could be written
    if not reading.text:
        raise AppError(f"{path}: no digits found{digitkit.images.first_page_note(path)}")
    return 0


# ---------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--camera", nargs="?", const=0, type=int, metavar="INDEX", help="read a webcam (default 0)"
    )
    source.add_argument("--video", type=Path, metavar="FILE", help="read a video file")
    source.add_argument("--image", type=Path, metavar="FILE", help="read one image; print the digits")
    parser.add_argument("--out", type=Path, help="where --image writes its annotated copy")
    parser.add_argument(
        "--model",
        help="model name (ensemble, distilled, cnn, mlp), a .keras file or an ensemble folder; default: the best found",
    )
    parser.add_argument(
        "--models",
        type=Path,
        help=f"where the models are (default: ${digitkit.MODEL_DIR_VARIABLE} or models/)",
    )
    parser.add_argument(
        "--headless", action="store_true", help="video/camera: no window, print each frame's digits"
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="video/camera: stop after N frames")
    parser.add_argument("--size", type=int, default=448, help="drawing board size in pixels (default 448)")
    parser.add_argument("--save-dir", type=Path, default=Path.cwd(), help="where 's' saves drawings")
    parser.add_argument("--state-file", type=Path, help="drawing mode: keep the prediction in this JSON file")
    args = parser.parse_args(argv)
    if args.size < 112:
        parser.error("--size must be at least 112")
    if args.max_frames is not None and args.max_frames < 1:
        parser.error("--max-frames must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; problems are reported in one line on stderr with a non-zero exit status."""
    args = parse_args(argv)
    try:
        choices = model_choices(args.model, args.models or digitkit.model_dir())
        shelf = ModelShelf(choices, fall_back=args.model is None)
        if args.image is not None:
            return run_image(args.image, args.out, shelf)
        if args.video is not None or args.camera is not None:
            capture, source = open_capture(args.camera, args.video)
            return run_frames(capture, source, shelf, args.headless, args.max_frames)
        return run_drawing(shelf, args.size, args.save_dir, args.state_file)
    except (AppError, ModelLoadError, ImageReadError) as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 1
    except TooManyDigitsError as error:
        print(f"{PROGRAM}: {args.image}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
