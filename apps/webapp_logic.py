"""What the Streamlit page computes, kept apart from the page so the benchmark and tests can call it.

Preprocessing, segmentation and model loading live in `digitkit`; this module turns the canvas into a
grayscale drawing, reads an upload with digitkit, and judges how sure a prediction is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from digitkit.annotate import as_bgr
from digitkit.images import decode_image
from digitkit.models import predict_proba
from digitkit.preprocess import to_model_input_image
from digitkit.reading import read_digits, top_k

if TYPE_CHECKING:
    import keras
    from digitkit.segment import DigitBox

REPO_DIR = Path(__file__).resolve().parent.parent
MODEL_DIR_VARIABLE = "DIGIT_MODEL_DIR"  # set it to try models kept elsewhere; default: the repo's models/
MODEL_LABELS = {"ensemble": "Ensemble", "cnn": "CNN", "mlp": "MLP"}

# Below this top probability the page says "Not sure" and lists the candidates instead of a digit.
# From benchmarks/calibrate_threshold.py on the notebook's validation split (10% of Kaggle's train.csv,
# stratified, seed 42: 4,200 digits no model trained on). Rule: every 0.05-wide confidence band above the
# threshold is right at least 90% of the time; one threshold for all models, the largest they need.
# Answers with 0.90-0.95 confidence are right only 89.9% of the time for the MLP (69 digits), 81.8% for
# the CNN (11) and 89.5% for the ensemble (19); every band from 0.95 up meets the rule. At 0.95 the
# ensemble answers 98.6% of the validation digits and is right on 99.93% of them, the CNN 99.0% (99.83%),
# the MLP 94.1% (99.54%); where they say "Not sure", their best guess is right only 74-78% of the time.
UNSURE_THRESHOLD = 0.95
CANDIDATE_MIN_PROBABILITY = 0.05  # "Not sure" lists the digits at least this likely (two to three)


def model_dir() -> Path:
    """Where the app looks for `mlp.keras`, `cnn.keras` and `ensemble.keras`."""
    configured = os.environ.get(MODEL_DIR_VARIABLE, "").strip()
    return Path(configured) if configured else REPO_DIR / "models"


def canvas_to_gray(rgba: np.ndarray) -> np.ndarray:
    """The canvas' RGBA pixels (white ink on black) as a uint8 grayscale image, transparent parts black."""
    pixels = np.asarray(rgba)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB or RGBA canvas image, got shape {pixels.shape}")
    gray = pixels[:, :, :3].max(axis=2).astype(np.float32)
    if pixels.shape[2] == 4:
        gray *= pixels[:, :, 3].astype(np.float32) / 255.0
    return gray.round().astype(np.uint8)


def predict_drawing(model: keras.Model, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 28x28 input the model sees for a drawing (white ink on black) and its ten probabilities.

    Raises digitkit.preprocess.EmptyImageError when the drawing holds no ink.
    """
    field = to_model_input_image(gray, invert=False)
    return field, predict_proba(model, field.reshape(1, -1))[0]


@dataclass(frozen=True)
class UploadReading:
    """An uploaded image, its digits (left to right), their probabilities and the 28x28 inputs."""

    image: np.ndarray  # BGR, as decoded
    boxes: list[DigitBox]
    probabilities: np.ndarray  # (N, 10)
    fields: list[np.ndarray]  # N images 28x28: what the model saw


def read_upload(model: keras.Model, data: bytes, name: str) -> UploadReading:
    """Decode an uploaded file and read its digits with digitkit, left to right.

    Raises digitkit.images.ImageReadError for anything that is not a readable image of sane size.
    """
    image = decode_image(data, name)
    _, boxes, probabilities = read_digits(image, model)
    # read_digits does not hand back its inputs: rebuild them (the same call on the same crops) to show.
    fields = [to_model_input_image(box.crop, invert=False) for box in boxes]
    return UploadReading(image, boxes, probabilities, fields)


def percent(probability: float) -> str:
    """A probability as whole percent, rounded down: 0.947 is "94%", never "95%" under a 95% threshold."""
    return f"{math.floor(probability * 100 + 1e-9)}%"


@dataclass(frozen=True)
class Verdict:
    """What the page says about one set of ten probabilities."""

    digit: int
    confidence: float
    sure: bool
    candidates: tuple[tuple[int, float], ...]  # most likely first

    @property
    def text(self) -> str:
        """`Prediction: 7`, or `Not sure: 4 (48%) or 9 (41%)`."""
        if self.sure:
            return f"Prediction: {self.digit}"
        options = " or ".join(f"{digit} ({percent(probability)})" for digit, probability in self.candidates)
        return f"Not sure: {options}"


def judge(probabilities: np.ndarray, threshold: float = UNSURE_THRESHOLD) -> Verdict:
    """Sure when the top probability reaches `threshold`; the candidates are the two or three likeliest."""
    ranked = top_k(probabilities, k=3)
    candidates = ranked[:2] + [c for c in ranked[2:] if c[1] >= CANDIDATE_MIN_PROBABILITY]
    digit, confidence = ranked[0]
    return Verdict(digit, confidence, confidence >= threshold, tuple(candidates))


def enlarge(field: np.ndarray, scale: int = 5) -> np.ndarray:
    """A 28x28 input blown up with square pixels (a browser would blur it), as uint8 for st.image."""
    pixels = np.clip(np.asarray(field, dtype=np.float32), 0.0, 1.0)
    return (np.kron(pixels, np.ones((scale, scale), dtype=np.float32)) * 255).round().astype(np.uint8)


SURE_COLOUR = (0, 160, 0)  # BGR: green
UNSURE_COLOUR = (0, 120, 230)  # BGR: orange
DISPLAY_WIDTH = 900  # small photos are enlarged to this width so boxes and labels stay legible ...
MAX_DISPLAY_WIDTH = 1800  # ... and big ones shrunk to this (the page column is narrower anyway)


def annotate(image: np.ndarray, boxes: list[DigitBox], verdicts: list[Verdict]) -> np.ndarray:
    """A BGR copy of the image with a box and a label per digit, sized to the digit; unsure ones orange with '?'.

    (digitkit.annotate sizes its labels to the whole image, which makes them tiny on small photos.)
    """
    width = image.shape[1]
    scale = min(4.0, DISPLAY_WIDTH / width) if width < DISPLAY_WIDTH else min(1.0, MAX_DISPLAY_WIDTH / width)
    canvas = as_bgr(image)
    if scale != 1:
        shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=shrink)
    thickness = max(2, round(max(canvas.shape[:2]) / 400))
    for box, verdict in zip(boxes, verdicts, strict=True):
        x, y, w, h = (round(v * scale) for v in (box.x, box.y, box.w, box.h))
        colour = SURE_COLOUR if verdict.sure else UNSURE_COLOUR
        cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), colour, thickness)
        label = str(verdict.digit) if verdict.sure else f"{verdict.digit}?"
        font_scale = max(0.5, h / 90)
        (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = y - text_h - baseline - 2 * thickness
        if top < 0:  # no room above the box: label inside it
            top = y
        cv2.rectangle(
            canvas, (x, top), (x + text_w + 2 * thickness, top + text_h + baseline + thickness), colour, -1
        )
        cv2.putText(
            canvas,
            label,
            (x + thickness, top + text_h + thickness),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
    return canvas
