"""Shared code of the project's two apps: preprocessing, segmentation, models, predictions and image files."""

from digitkit.annotate import annotate, colour_of
from digitkit.board import DrawingBoard
from digitkit.files import write_atomically, write_bytes_atomic, write_image, write_new_image
from digitkit.images import MAX_PIXELS, MAX_SIDE, ImageReadError, decode_image, read_image_file
from digitkit.models import (
    DEFAULT_MODEL_DIR,
    ENSEMBLE,
    MODEL_DIR_VARIABLE,
    MODEL_NAMES,
    ModelLoadError,
    available_models,
    load_model,
    model_dir,
    predict_proba,
)
from digitkit.pixels import ImageArrayError, to_bgr, to_gray
from digitkit.prediction import (
    UNSURE_THRESHOLD,
    Prediction,
    Status,
    percent,
    predict_drawing,
    prediction_from,
    top_k,
)
from digitkit.preprocess import EmptyImageError, has_ink, to_model_input, to_model_input_image
from digitkit.reading import Reading, read_digits
from digitkit.segment import DigitBox, TooManyDigitsError, find_digits, ink_map

__all__ = [
    "DEFAULT_MODEL_DIR",
    "ENSEMBLE",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MODEL_DIR_VARIABLE",
    "MODEL_NAMES",
    "UNSURE_THRESHOLD",
    "DigitBox",
    "DrawingBoard",
    "EmptyImageError",
    "ImageArrayError",
    "ImageReadError",
    "ModelLoadError",
    "Prediction",
    "Reading",
    "Status",
    "TooManyDigitsError",
    "annotate",
    "available_models",
    "colour_of",
    "decode_image",
    "find_digits",
    "has_ink",
    "ink_map",
    "load_model",
    "model_dir",
    "percent",
    "predict_drawing",
    "predict_proba",
    "prediction_from",
    "read_digits",
    "read_image_file",
    "to_bgr",
    "to_gray",
    "to_model_input",
    "to_model_input_image",
    "top_k",
    "write_atomically",
    "write_bytes_atomic",
    "write_image",
    "write_new_image",
]
