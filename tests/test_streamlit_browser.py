"""The web app in a real browser: `streamlit run` serves it, headless Chromium draws and uploads.

The browser comes from the `browser` fixture (conftest.py: Debian's chromium through Playwright). Only
loopback traffic: the server binds 127.0.0.1. Set STREAMLIT_SCREENSHOT_DIR to a folder to also save the
screenshots used in the README.
"""

from __future__ import annotations

import base64
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from digitkit.preprocess import to_model_input_image
from local_web import free_port, local_server
from page_images import canvas_to_gray
from playwright.sync_api import Browser, Page, expect
from testdata.mnist import mnist_digits
from testdata.rows import render_row, stroke_runs
from testdata.synthetic import glyph_strokes, paper_photo
from testdata.writers import board_strokes, slanted_pool

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90
ANSWER_TIMEOUT_MS = 30_000
SCREENSHOTS = os.environ.get("STREAMLIT_SCREENSHOT_DIR")

# Digits as a person draws them with the mouse: strokes of (x, y) points on the 280x280 canvas.
ONE = [[(150, 40), (140, 140), (132, 240)]]
SEVEN = [[(70, 50), (210, 50), (120, 240)]]
ZERO = [[(140 + 65 * np.sin(a), 140 - 95 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 37)]]
FOUR = [[(165, 40), (60, 165), (225, 165)], [(175, 70), (175, 245)]]
# Seeds of 1s with a flag (board_strokes) that the CNN, untaught and with no style read as its digit,
# refuses or misreads in this browser
TAUGHT_FLAG_SEED, NEW_FLAG_SEED = 0, 4


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    """`streamlit run apps/streamlit_app.py` on a free loopback port, with the committed models."""
    yield from served_app(tmp_path_factory)


@pytest.fixture(scope="module")
def unforeseen_app_url(tmp_path_factory, unforeseen_model_dir) -> Iterator[str]:
    """The app with only the committed CNN, no style read as its digit (conftest.unforeseen_model_dir)."""
    yield from served_app(tmp_path_factory, unforeseen_model_dir)


def served_app(tmp_path_factory, model_dir: Path | None = None) -> Iterator[str]:
    """The app's URL while it runs with the models of `model_dir` (None: the committed ones); then checks
    its log."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DIGIT_MODEL_DIR"}
    if model_dir is not None:
        env["DIGIT_MODEL_DIR"] = str(model_dir)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "apps/streamlit_app.py",
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with local_server(command, ROOT, env, f"{url}/_stcore/health", log, START_TIMEOUT_S):
        yield url
        output = log.read_text()
        assert "Traceback" not in output, output[-3000:]
        assert not any(word in output for word in ("cuInit", "oneDNN", "cuda", "absl")), output[-3000:]


def open_app(browser: Browser, url: str, touch: bool = False) -> Page:
    """A new browser session on the app, its canvas ready."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}, has_touch=touch).new_page()
    page.goto(url)
    page.locator("canvas.upper-canvas").wait_for(timeout=START_TIMEOUT_S * 1000)
    expect(page.get_by_text("Draw a digit (0-9)")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    settled(page)
    return page


def page_points(page: Page, stroke) -> list[tuple[float, float]]:
    """A stroke's points on the page, with 4 more between each two, as a moving hand sends them."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    points = [(box["x"] + stroke[0][0], box["y"] + stroke[0][1])]
    for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True):
        points += [
            (box["x"] + x0 + (x1 - x0) * t / 5, box["y"] + y0 + (y1 - y0) * t / 5) for t in range(1, 6)
        ]
    return points


def draw(page: Page, strokes) -> None:
    """Mouse strokes on the canvas: press, move through the points, release."""
    for stroke in strokes:
        first, *rest = page_points(page, stroke)
        page.mouse.move(*first)
        page.mouse.down()
        for point in rest:
            page.mouse.move(*point)
        page.mouse.up()
    page.mouse.move(1200, 100)  # off the canvas, so its toolbar hides
    wait_for_ink(page)


def draw_by_touch(page: Page, strokes) -> None:
    """Finger strokes on the canvas, as a touch screen sends them (touchstart, touchmove..., touchend)."""
    touch = page.context.new_cdp_session(page)
    for stroke in strokes:
        first, *rest = page_points(page, stroke)
        kinds = ["touchStart"] + ["touchMove"] * len(rest)
        for kind, (x, y) in zip(kinds, [first, *rest], strict=True):
            touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_for_ink(page)


def wait_for_ink(page: Page, timeout_s: float = 5.0) -> None:
    """The canvas paints strokes on its next animation frame: wait until they are there."""
    deadline = time.monotonic() + timeout_s
    while canvas_pixels(page)[..., :3].max() < 255:
        assert time.monotonic() < deadline, "the strokes did not reach the canvas"
        page.wait_for_timeout(100)


def canvas_pixels(page: Page) -> np.ndarray:
    """The drawing as the canvas holds it (RGBA, 280x280): what the component sends to the app."""
    url = page.locator("canvas.lower-canvas.dc-canvas").evaluate("canvas => canvas.toDataURL()")
    png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)


def drawing_to_input_figure(drawings: list[np.ndarray], path: Path, cell: int = 168) -> None:
    """The docs picture: each raw canvas drawing above the 28x28 input the model gets from it."""
    gap, title = 24, 34
    width = len(drawings) * cell + (len(drawings) + 1) * gap
    figure = np.full((2 * cell + 2 * title + 3 * gap, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(
        figure, "Drawn on the canvas (280x280)", (gap, title), font, 0.7, (40, 40, 40), 2, cv2.LINE_AA
    )
    low = title + cell + 2 * gap + title
    cv2.putText(
        figure, "What the model gets (28x28)", (gap, low - 12), font, 0.7, (40, 40, 40), 2, cv2.LINE_AA
    )
    for index, rgba in enumerate(drawings):
        x = gap + index * (cell + gap)
        gray = canvas_to_gray(rgba)
        raw = cv2.resize(gray, (cell, cell), interpolation=cv2.INTER_AREA)
        field = to_model_input_image(gray, invert=False)
        small = cv2.resize((field * 255).astype(np.uint8), (cell, cell), interpolation=cv2.INTER_NEAREST)
        figure[title + 10 : title + 10 + cell, x : x + cell] = raw[:, :, None]
        figure[low : low + cell, x : x + cell] = small[:, :, None]
        mid = x + cell // 2
        cv2.arrowedLine(figure, (mid, title + cell + 16), (mid, low - 36), (0, 120, 230), 3, tipLength=0.3)
    cv2.imwrite(str(path), figure)


def settled(page: Page) -> None:
    """Wait until the app has finished the rerun that the last stroke or upload started."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=ANSWER_TIMEOUT_MS
    )


def answer(page: Page) -> str:
    """The heading the app shows for the drawing: `Prediction: d`, `Not sure: ...` or `Not a digit`."""
    heading = (
        page.locator("h3")
        .filter(has_text="Prediction:")
        .or_(page.locator("h3").filter(has_text="Not sure"))
        .or_(page.locator("h3").filter(has_text="Not a digit"))
    )
    expect(heading).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    settled(page)
    return heading.inner_text().strip()


def clear(page: Page) -> None:
    """Press "Clear" and wait for the fresh canvas (strokes on the one being replaced would be lost)."""
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_text("Draw a digit (0-9)")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    settled(page)
    expect(page.locator("canvas.upper-canvas")).to_have_count(1)
    page.wait_for_timeout(300)


def test_digits_drawn_with_the_mouse_are_recognized(browser, app_url):
    page = open_app(browser, app_url)
    drawings = []
    for expected, strokes in [(1, ONE), (7, SEVEN), (0, ZERO), (4, FOUR)]:
        draw(page, strokes)
        assert answer(page) == f"Prediction: {expected}"
        expect(page.get_by_text("What the model sees (28x28)")).to_be_visible()
        drawings.append(canvas_pixels(page))
        if SCREENSHOTS and expected == 4:
            page.screenshot(path=str(Path(SCREENSHOTS) / "streamlit_app.png"))
        clear(page)
    assert "Traceback" not in page.content()
    page.context.close()
    # What the canvas held is white ink on black, as the app expects.
    assert all(
        d.shape == (280, 280, 4) and d[0, 0, :3].max() == 0 and d[..., :3].max() == 255 for d in drawings
    )
    if SCREENSHOTS:
        drawing_to_input_figure(drawings, Path(SCREENSHOTS) / "drawing_to_input.png")


def test_things_that_are_not_digits_drawn_with_the_mouse_are_refused(browser, app_url):
    # letters, symbols and a doodle, as mouse strokes on the canvas (the shapes of testdata.synthetic)
    page = open_app(browser, app_url)
    answers = {}
    for k, name in enumerate(["A", "K", "#", "+", "smiley", "star"]):
        strokes = glyph_strokes(name, np.random.default_rng(k))
        draw(page, [[(50 + 180 * x, 50 + 180 * y) for x, y in stroke] for stroke in strokes])
        answers[name] = answer(page)
        clear(page)
    page.context.close()
    refused = [name for name, said in answers.items() if said == "Not a digit"]
    assert len(refused) >= 5, answers


def test_digit_drawn_with_a_finger_is_recognized(browser, app_url):
    page = open_app(browser, app_url, touch=True)
    draw_by_touch(page, SEVEN)
    assert answer(page) == "Prediction: 7"
    page.context.close()


def test_a_real_handwritten_digit_retraced_with_the_mouse(browser, app_url):
    # A real MNIST '3' redrawn stroke by stroke (one mouse drag per run of ink in each of its rows).
    page = open_app(browser, app_url)
    strokes = [[start, end] for start, end in stroke_runs(3, 280)]
    draw(page, strokes)
    assert answer(page) == "Prediction: 3"
    page.context.close()


def photo_input(page):
    """The photo tab's file input (the sidebar has another, for restoring taught examples)."""
    return page.get_by_test_id("stTabs").locator('input[type="file"]')


def test_uploaded_photo_of_a_row_is_read(browser, app_url, tmp_path):
    page = open_app(browser, app_url)
    page.get_by_role("tab", name="Read a photo").click()
    photo = tmp_path / "row.jpg"
    cv2.imwrite(str(photo), render_row("40213", seed=7, shear=0.15).image)
    photo_input(page).set_input_files(str(photo))
    expect(page.get_by_role("heading", name="Read: 40213")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    settled(page)
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "streamlit_upload.png"), full_page=True)
    read = page.get_by_role("heading", name="Read: 40213")
    photo_input(page).set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture at all"}]
    )
    expect(page.get_by_text("Could not read this file. notes.png: not an image")).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    expect(read).to_have_count(0)  # the refused file replaced the photo: its reading is gone
    photo_input(page).set_input_files(str(photo))
    expect(read).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    settled(page)
    # Over the limit in .streamlit/config.toml: Streamlit refuses the file before the app sees it, and
    # the photo before it is removed too, so the page does not go on showing the photo's reading.
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    limit_mb = int(re.search(r"^maxUploadSize\s*=\s*(\d+)", config, re.MULTILINE).group(1))
    photo_input(page).set_input_files(
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": b"\0" * ((limit_mb + 1) << 20)}]
    )
    expect(page.get_by_text(re.compile(r"File must be [\d.]+ ?MB or smaller"))).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    expect(read).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)
    settled(page)
    # A photo uploaded after the refused file is read as usual.
    photo_input(page).set_input_files(str(photo))
    expect(read).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert "Traceback" not in page.content()
    page.context.close()


def test_a_doubtful_digit_of_an_uploaded_number_is_shown_unsure(browser, app_url, tmp_path):
    # real 1s from the 5% that lean most: the last leans like a slash; it is shown unsure, not left out
    page = open_app(browser, app_url)
    page.get_by_role("tab", name="Read a photo").click()
    images, labels = mnist_digits()
    photo = tmp_path / "slanted.jpg"
    cv2.imwrite(
        str(photo), paper_photo("611", seed=0, digits=slanted_pool(images.reshape(-1, 28, 28), labels)).image
    )
    photo_input(page).set_input_files(str(photo))
    heading = page.get_by_role("heading", name="Read: 611 (not sure of the 3rd digit)")
    expect(heading).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(
        page.get_by_text(re.compile(r"Digit 3 \(read as 1\) is unclear.*leans like a slash"))
    ).to_be_visible()
    assert "Traceback" not in page.content()
    page.context.close()


def test_two_sessions_at_once_get_their_own_answers(browser, app_url):
    first, second = open_app(browser, app_url), open_app(browser, app_url)
    draw(first, SEVEN)
    draw(second, ONE)  # drawn while the first session's rerun may still be running
    assert answer(first) == "Prediction: 7"
    assert answer(second) == "Prediction: 1"
    # A new drawing in one session leaves the other's answer alone.
    clear(second)
    draw(second, ZERO)
    assert answer(second) == "Prediction: 0"
    assert answer(first) == "Prediction: 7"
    first.context.close()
    second.context.close()


def test_a_refused_or_misread_one_with_a_flag_is_read_as_one_once_taught(browser, unforeseen_app_url):
    page = open_app(browser, unforeseen_app_url)  # the CNN, with 1s with a flag as a style nobody foresaw
    draw(page, board_strokes("1 with a flag", TAUGHT_FLAG_SEED, step=4))
    assert answer(page) != "Prediction: 1"
    page.get_by_role("button", name="1", exact=True).click()
    expect(page.get_by_text("1 example (1: 1)")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert answer(page) == "Prediction: 1"
    clear(page)
    # a new one, which the CNN untaught does not read as 1 either
    draw(page, board_strokes("1 with a flag", NEW_FLAG_SEED, step=4))
    assert answer(page) == "Prediction: 1"
    expect(page.get_by_text("Read from your examples")).to_be_visible()
    page.get_by_test_id("stSidebar").get_by_role("button", name="Undo").click()  # (the canvas has one too)
    expect(page.get_by_text("no examples")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert answer(page) != "Prediction: 1"
    assert "Traceback" not in page.content()
    page.context.close()
