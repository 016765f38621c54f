"""Benchmark: time and memory of the apps' image path on the worst uploads we could construct.

    python benchmarks/bench_image_bounds.py [--model ensemble] [--only NAME ...]

Each case is a file of at most 10 MB (the web app's upload limit) built to be costly: extreme shapes, the
most pixels allowed (40 MP) in every kind of PNG and JPEG, noise and patterns with the most connected
pieces, a single long stroke. Each runs in a fresh process what the web page runs for an upload
(decode, find and read the digits, annotate), and reports the wall time and the process's peak memory,
also as the increase over the same process before the upload (Python, TensorFlow and the model loaded).
The goal (issue 13): any accepted upload handled in a few seconds and well under 1 GB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UPLOAD_LIMIT = 10 * 2**20  # .streamlit/config.toml: maxUploadSize = 10


def _png(array, mode: str | None = None, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    (Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)).save(
        buffer, "PNG", **options
    )
    return buffer.getvalue()


def _jpeg(array, quality: int) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", array, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def _page(height: int, width: int):
    """A smooth page (light falling off) with a row of real digits: compresses well, so 40 MP fit in 10 MB."""
    import numpy as np
    from testdata.rows import render_row

    light = np.linspace(190, 225, width, dtype=np.float32)
    page = np.repeat(light[np.newaxis, :].astype(np.uint8), height, axis=0)
    row = render_row("40213", digit_height=max(40, height // 8), seed=1, noise=0, uneven_light=0)
    gray = row.image[:, :, 0]
    top, left = (height - gray.shape[0]) // 2, (width - gray.shape[1]) // 2
    page[top : top + gray.shape[0], left : left + gray.shape[1]] = np.minimum(
        page[top : top + gray.shape[0], left : left + gray.shape[1]], gray
    )
    return page


def build_cases() -> dict[str, Callable[[], bytes]]:
    """The worst cases: name -> a function making the file's bytes."""
    import numpy as np
    from testdata.rows import bar_code, photo_with_small_digits, png_claiming_size, stroke_image

    def strip(length: int) -> bytes:
        column = np.full((length, 1), 255, np.uint8)
        column[::7] = column[1::7] = column[2::7] = 0
        return _png(column, optimize=True)

    def rgba_40mp() -> bytes:
        page = _page(5470, 7300)
        alpha = np.where(page < 128, 255, 0).astype(np.uint8)  # transparent paper, opaque ink
        return _png(np.dstack([page, page, page, alpha]))

    def checkerboard() -> bytes:
        board = (np.indices((2000, 2000)).sum(axis=0) % 2 * 255).astype(np.uint8)
        board[1::2] = 0  # one-pixel dots: a million connected pieces
        return _png(board)

    return {
        "strip 1 x 39,000,000 (header)": lambda: png_claiming_size(1, 39_000_000),
        "strip 1 x 4,000,000": lambda: strip(4_000_000),
        "stroke 12 x 4000": lambda: _png(stroke_image(12, 4000)),
        "stroke 20 x 20000": lambda: _png(stroke_image(20, 20000)),
        "solid bar 200 x 300": lambda: _png(
            np.pad(np.zeros((200, 100), np.uint8), ((0, 0), (100, 100)), constant_values=255)
        ),
        "photo 6000 x 6000, 80 px digits (JPEG)": lambda: _jpeg(photo_with_small_digits("40213")[0], 90),
        "page 40 MP gray PNG": lambda: _png(_page(5470, 7300)),
        "page 40 MP RGB PNG": lambda: _png(_page(5470, 7300), "RGB"),
        "page 40 MP RGBA PNG": rgba_40mp,
        "page 40 MP 16-bit PNG": lambda: _png(_page(5470, 7300).astype(np.uint16) * 257),
        "page 40 MP bilevel PNG": lambda: _png(_page(5470, 7300), "1"),
        "page 40 MP JPEG": lambda: _jpeg(_page(5470, 7300), 85),
        "page 20000 x 2000 PNG": lambda: _png(_page(2000, 20000)),
        "noise 2000 x 2000 PNG": lambda: _png(
            np.random.default_rng(0).integers(0, 256, (2000, 2000), np.uint8)
        ),
        "checkerboard 2000 x 2000 PNG": checkerboard,
        "350 bars (too many digits)": lambda: _png(bar_code(350)),
    }


def run_case(path: Path, model_path: Path) -> dict:
    """In this process: load the model, then read the upload as the page does; times and memory."""
    from digitkit import ImageReadError, TooManyDigitsError, annotate, decode_image, read_digits
    from digitkit.novelty import load_checked_model

    model, check, _ = load_checked_model(model_path)  # as the page loads it
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = path.read_bytes()
    started = time.perf_counter()
    try:  # what apps/page_images.read_upload does
        image = decode_image(data, path.name)
        reading = read_digits(image, model, check)
        annotate(image, reading.boxes, reading.predictions)
        outcome = f"read {reading.text or '(no digits)'}"
    except (ImageReadError, TooManyDigitsError) as error:
        outcome = f"refused: {str(error).removeprefix(path.name + ': ')}"
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "peak_mb": peak / 1024,
        "increase_mb": (peak - before) / 1024,
        "outcome": outcome,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ensemble", help="mlp, cnn or ensemble (in models/)")
    parser.add_argument("--only", nargs="*", help="run only the cases whose names contain these words")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case file in this process
    args = parser.parse_args()
    model_path = REPO / "models" / f"{args.model}.keras"
    if args.case:
        print(json.dumps(run_case(Path(args.case), model_path)))
        return 0

    cases = build_cases()
    if args.only:
        cases = {name: make for name, make in cases.items() if any(word in name for word in args.only)}
    print(f"model: {model_path.name}; each case in a fresh process; {os.cpu_count()} CPU cores")
    print(f"{'case':42} {'file':>9} {'seconds':>8} {'peak MB':>8} {'+MB':>6}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, make) in enumerate(cases.items()):
            data = make()
            path = Path(folder) / f"case{index}.png"
            path.write_bytes(data)
            assert len(data) <= UPLOAD_LIMIT, f"{name}: {len(data)} bytes, over the upload limit"
            child = subprocess.run(
                [sys.executable, __file__, "--model", args.model, "--case", str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{name:42} {len(data) / 1e6:7.2f}MB {result['seconds']:8.2f} {result['peak_mb']:8.0f}"
                f" {result['increase_mb']:6.0f}  {result['outcome'][:60]}",
                flush=True,
            )
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
