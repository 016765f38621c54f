"""The state of a drawing board, apart from any window: strokes, ink, the current prediction, saving."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from digitkit.files import write_new_image
from digitkit.prediction import Prediction, predict_drawing
from digitkit.preprocess import has_ink

if TYPE_CHECKING:
    import keras

    from digitkit.novelty import DigitCheck

Point = tuple[int, int]


class DrawingBoard:
    """A square black board drawn on in white strokes, with the prediction for what is drawn."""

    def __init__(self, size: int = 448, brush_radius: int | None = None) -> None:
        self.size = size
        # About MNIST's stroke width once a digit filling most of the board is scaled to 20 px.
        self.brush_radius = brush_radius if brush_radius is not None else max(2, round(size / 28))
        self.ink = np.zeros((size, size), np.uint8)
        self.strokes: list[list[Point]] = []
        self.drawing = False
        self.prediction: Prediction | None = None
        self._predicted_for: tuple[int, str] | None = None  # (change count, model name) of the prediction
        self._changes = 0

    def _clamp(self, x: int, y: int) -> Point:
        return int(np.clip(x, 0, self.size - 1)), int(np.clip(y, 0, self.size - 1))

    def begin_stroke(self, x: int, y: int) -> None:
        """Put the pen down at (x, y): a new stroke starting with a dot."""
        point = self._clamp(x, y)
        self.strokes.append([point])
        self.drawing = True
        cv2.circle(self.ink, point, self.brush_radius, 255, -1, cv2.LINE_AA)
        self._changes += 1

    def extend_stroke(self, x: int, y: int) -> None:
        """Move the pen to (x, y), drawing a line from the last point while the pen is down."""
        if not self.drawing:
            return
        point = self._clamp(x, y)
        cv2.line(self.ink, self.strokes[-1][-1], point, 255, 2 * self.brush_radius, cv2.LINE_AA)
        cv2.circle(self.ink, point, self.brush_radius, 255, -1, cv2.LINE_AA)
        self.strokes[-1].append(point)
        self._changes += 1

    def end_stroke(self) -> None:
        """Lift the pen."""
        self.drawing = False

    def clear(self) -> None:
        """Wipe the board and forget the strokes and the prediction."""
        self.ink[:] = 0
        self.strokes = []
        self.drawing = False
        self.prediction = None
        self._predicted_for = None
        self._changes += 1

    @property
    def has_ink(self) -> bool:
        """True once something is drawn."""
        return bool(self.strokes) and has_ink(self.ink, invert=False)

    def update_prediction(
        self, model: keras.Model, model_name: str, check: DigitCheck | None = None
    ) -> Prediction | None:
        """Predict again if the drawing or the model (by name) changed since the last prediction; return it.

        With the model's DigitCheck, a drawing that is not a digit gets the status NOT_A_DIGIT.
        """
        if self._predicted_for == (self._changes, model_name):
            return self.prediction
        self._predicted_for = (self._changes, model_name)
        self.prediction = predict_drawing(model, self.ink, check) if self.has_ink else None
        return self.prediction

    def save(self, path: str | Path) -> Path:
        """Save the drawing (white on black) as a new image file at `path` or a free name beside it."""
        return write_new_image(path, self.ink)
