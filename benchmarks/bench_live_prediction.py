"""Benchmark: milliseconds for preprocessing + prediction of one drawing, and the video mode's frames/s.

    python benchmarks/bench_live_prediction.py [--repeats 300] [--frames 120] [--threads N]

Prints the median (and 90th percentile) over many repetitions, for every saved model found in models/.
The drawing is a real MNIST digit retraced stroke by stroke on the OpenCV tool's 448 px board; the video
is a 640x480 MJPG clip of rows of real digits, read the way `opencv_app.py --video --headless` reads it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]

import cv2  # noqa: E402
import digitkit  # noqa: E402
import numpy as np  # noqa: E402
from digitkit.novelty import load_checked_model  # noqa: E402
from testdata.rows import stroke_runs, write_digit_video  # noqa: E402


def drawn_board(label: int = 7, size: int = 448) -> digitkit.DrawingBoard:
    """A board with a real handwritten digit retraced on it."""
    board = digitkit.DrawingBoard(size)
    for start, end in stroke_runs(label, size):
        board.begin_stroke(*start)
        board.extend_stroke(*end)
        board.end_stroke()
    return board


def time_ms(action, repeats: int) -> np.ndarray:
    """Wall-clock milliseconds of each of `repeats` calls (after a few warm-up calls)."""
    for _ in range(10):
        action()
    times = np.empty(repeats)
    for index in range(repeats):
        start = time.perf_counter()
        action()
        times[index] = (time.perf_counter() - start) * 1000
    return times


def bench_drawing(model, check, ink: np.ndarray, repeats: int) -> dict[str, np.ndarray]:
    """Times of preprocessing alone, the model alone and the board's whole prediction (with the digit
    check, as the apps predict), for one drawing."""
    model_input = digitkit.to_model_input(ink, invert=False)[np.newaxis]
    return {
        "preprocess": time_ms(lambda: digitkit.to_model_input(ink, invert=False), repeats),
        "predict": time_ms(lambda: digitkit.predict_proba(model, model_input), repeats),
        "total": time_ms(lambda: digitkit.predict_drawing(model, ink, check), repeats),
    }


def bench_video(model, check, video: Path) -> tuple[float, float, int]:
    """The video mode's frames per second (decode + find + read), its median ms per frame, and frames read."""
    capture = cv2.VideoCapture(str(video))
    per_frame = []
    started = time.perf_counter()
    while True:
        frame_start = time.perf_counter()
        ok, frame = capture.read()
        if not ok:
            break
        digitkit.read_digits(frame, model, check)
        per_frame.append((time.perf_counter() - frame_start) * 1000)
    elapsed = time.perf_counter() - started
    capture.release()
    return len(per_frame) / elapsed, float(np.median(per_frame)), len(per_frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300, help="repetitions per measurement (default 300)")
    parser.add_argument("--frames", type=int, default=120, help="frames in the benchmark video (default 120)")
    parser.add_argument("--threads", type=int, help="limit TensorFlow to this many CPU threads")
    parser.add_argument(
        "--models", type=Path, help="folder of the saved models (default: $DIGIT_MODEL_DIR or models/)"
    )
    args = parser.parse_args()

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    args.models = args.models or digitkit.model_dir()
    found = digitkit.available_models(args.models)
    if not found:
        print(f"bench_live_prediction: no model found in {args.models}", file=sys.stderr)
        return 1
    missing = [name for name in digitkit.MODEL_NAMES if name not in found]
    print(f"CPU cores: {os.cpu_count()}, TensorFlow {tf.__version__}, OpenCV {cv2.__version__}")
    if missing:
        print(f"not found in {args.models}: {', '.join(missing)}")
    models = {name: load_checked_model(path)[:2] for name, path in found.items()}  # the apps' path
    ink = drawn_board().ink

    print(f"\nOne drawing (448x448 board): preprocessing + prediction, ms, median of {args.repeats}")
    print(f"{'model':10} {'preprocess':>11} {'predict':>9} {'total':>9} {'total p90':>10}")
    for name, (model, check) in models.items():
        times = bench_drawing(model, check, ink, args.repeats)
        medians = {part: float(np.median(values)) for part, values in times.items()}
        p90 = float(np.percentile(times["total"], 90))
        print(
            f"{name:10} {medians['preprocess']:11.2f} {medians['predict']:9.2f} {medians['total']:9.2f} {p90:10.2f}"
        )

    texts = ["40213", "5678", "90213", "3141", "76502", "2893"]
    with tempfile.TemporaryDirectory() as folder:
        video = write_digit_video(
            Path(folder) / "bench.avi",
            [texts[i % len(texts)] for i in range(args.frames)],
            frame_size=(640, 480),
        )
        print("\nVideo mode (640x480 MJPG, 3 to 5 digits a frame): decode + find + read, no window")
        print(f"{'model':10} {'frames/s':>9} {'ms/frame':>9} {'frames':>7}")
        for name, (model, check) in models.items():
            fps, median_ms, frames = bench_video(model, check, video)
            print(f"{name:10} {fps:9.1f} {median_ms:9.2f} {frames:7d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
