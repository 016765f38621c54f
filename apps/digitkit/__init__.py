"""Shared code of the project's two apps: preprocessing, segmentation, models and image files."""

from digitkit.annotate import annotate, as_bgr
from digitkit.board import DrawingBoard, Prediction
from digitkit.files import write_bytes_atomic, write_image
from digitkit.images import MAX_PIXELS, ImageReadError, decode_image, read_image_file
from digitkit.models import (
    DEFAULT_MODEL_DIR,
    MODEL_NAMES,
    ModelLoadError,
    available_models,
    load_model,
    predict_proba,
)
from digitkit.preprocess import EmptyImageError, has_ink, to_model_input, to_model_input_image
from digitkit.reading import read_digits, top_k
from digitkit.segment import DigitBox, find_digits, ink_map

__all__ = [
    "DEFAULT_MODEL_DIR",
    "MAX_PIXELS",
    "MODEL_NAMES",
    "DigitBox",
    "DrawingBoard",
    "EmptyImageError",
    "ImageReadError",
    "ModelLoadError",
    "Prediction",
    "annotate",
    "as_bgr",
    "available_models",
    "decode_image",
    "find_digits",
    "has_ink",
    "ink_map",
    "load_model",
    "predict_proba",
    "read_digits",
    "read_image_file",
    "to_model_input",
    "to_model_input_image",
    "top_k",
    "write_bytes_atomic",
    "write_image",
]
