"""How long the web app takes to predict one drawing: canvas pixels -> 28x28 input -> model -> prediction.

The same calls the page makes for each stroke (page_images.canvas_to_gray, digitkit's predict_drawing with
the model's "not a digit" check, as the page loads it; --no-check for the model alone), on
280x280 RGBA canvases holding real MNIST digits scaled up as if drawn, pinned to 2 CPU cores with
TensorFlow limited to 2 threads. The issue's target: under 50 ms median with the CNN.

Usage: .venv/bin/python benchmarks/bench_drawing_prediction.py [--model cnn] [--repeats 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORES = 2
TARGET_MS = 50.0


def pin_to_cores(count: int) -> list[int]:
    """Run on `count` CPU cores (where the OS allows it); TensorFlow must be imported after this."""
    cores = sorted(os.sched_getaffinity(0))[:count] if hasattr(os, "sched_getaffinity") else []
    if cores:
        os.sched_setaffinity(0, cores)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return cores


def canvases(count: int):
    """Canvas images (RGBA, 280x280, white ink on black) of real handwritten digits, as the page gets them."""
    import cv2
    import numpy as np
    from testdata.mnist import mnist_digits

    images, labels = mnist_digits()
    boards = []
    for index in range(count):
        digit = images[index]
        gray = cv2.resize(digit, (280, 280), interpolation=cv2.INTER_LINEAR)
        boards.append(np.dstack([gray, gray, gray, np.full_like(gray, 255)]))
    return boards, labels[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="cnn", help="ensemble, distilled, cnn or mlp (in models/), or a .keras file"
    )
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--no-check", action="store_true", help="the model alone, without the digit check")
    args = parser.parse_args()

    cores = pin_to_cores(CORES)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(CORES)
    tf.config.threading.set_inter_op_parallelism_threads(CORES)
    from digitkit.models import available_models, load_model
    from digitkit.novelty import load_digit_check
    from digitkit.pixels import canvas_to_gray
    from digitkit.prediction import predict_drawing
    from digitkit.preprocess import to_model_input_image

    models = available_models(ROOT / "models")
    if args.model.endswith(".keras"):
        models[args.model] = Path(args.model)
    if args.model not in models:
        sys.exit(f"models/{args.model}.keras not found; have: {', '.join(models) or 'none'} (use --model)")
    model = load_model(models[args.model])
    check = None if args.no_check else load_digit_check(model, models[args.model])
    boards, labels = canvases(50)

    for board in boards[:20]:  # warm up: the first calls build TensorFlow's graph
        predict_drawing(model, canvas_to_gray(board), check)

    total, preprocessing, right = [], [], 0
    for repeat in range(args.repeats):
        board = boards[repeat % len(boards)]
        start = time.perf_counter()
        prediction = predict_drawing(model, canvas_to_gray(board), check)
        total.append((time.perf_counter() - start) * 1000)
        right += prediction.digit == labels[repeat % len(boards)]

        start = time.perf_counter()
        to_model_input_image(canvas_to_gray(board), invert=False)
        preprocessing.append((time.perf_counter() - start) * 1000)

    median = statistics.median(total)
    p90 = statistics.quantiles(total, n=10)[-1]
    checked = "without" if check is None else "with"
    print(
        f"model: {args.model} ({models[args.model].name}) {checked} the 'not a digit' check,"
        f" cores: {cores or 'all'}, TF threads: {CORES}"
    )
    print(
        f"drawings: {len(boards)} real digits on a 280x280 canvas, {args.repeats} predictions, {right} right"
    )
    print(f"preprocessing alone: median {statistics.median(preprocessing):.2f} ms")
    print(f"prediction for one drawing (preprocessing + model): median {median:.2f} ms, p90 {p90:.2f} ms")
    print(f"target: median under {TARGET_MS:.0f} ms -> {'met' if median < TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
