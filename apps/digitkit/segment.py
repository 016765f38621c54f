"""Find the digits in a photo, scan or video frame: threshold, connected pieces, merge, split, sort."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from digitkit.paper import ink_on_paper

SPECK_FRACTION = 0.00005  # pieces smaller than this share of the image's pixels are noise ...
SPECK_SHARE_OF_LARGEST = 0.04  # ... and so are pieces below this share of the largest piece
MIN_HEIGHT_SHARE = 0.3  # a digit is at least this share of the tallest digit's height
MIN_INK_CONTRAST = 35  # ink must stand out from the paper by this much (0..255) after levelling
WIDE_RATIO = (
    1.0  # a blob wider than this times the digits' height, slant taken out, holds touching digits ...
)
TYPICAL_ASPECT = 0.75  # ... of digits about this wide (times their height), meeting ...
CUT_DISTANCE_WEIGHT = 1.5  # ... where the ink is thinnest, near where such digits would meet
MIN_PIECE_SHARE = 0.3  # ... and is split into pieces at least this share of the height wide
BACKGROUND_SCALE = 4  # the uneven paper is estimated on an image this many times smaller (speed)


@dataclass(frozen=True)
class DigitBox:
    """One digit found in an image: its box in the image's pixels and its crop (ink bright on dark)."""

    x: int
    y: int
    w: int
    h: int
    crop: np.ndarray = field(repr=False, compare=False)


@dataclass
class _Group:
    """Connected pieces (component labels) taken to be one digit, with their joint bounding box."""

    labels: list[int]
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def _to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 view of a gray, BGR or BGRA image (uint8, or float on a 0..1 or 0..255 scale)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype != np.uint8:
        values = array.astype(np.float32)
        if values.size and values.max() <= 1.0:
            values *= 255.0
        array = np.clip(values, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = cv2.cvtColor(array[:, :, :3], cv2.COLOR_BGR2GRAY)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"expected a gray or BGR image, got shape {np.asarray(image).shape}")
    return array


def ink_map(image: np.ndarray) -> np.ndarray:
    """The image as uint8 with ink bright and the (possibly unevenly lit) paper levelled to about 0."""
    on_paper = ink_on_paper(image, MIN_INK_CONTRAST)  # dark ink on paper: shadows, page lines (paper.py)
    if on_paper is not None:
        return on_paper
    gray = _to_gray_uint8(image)
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    frame = max(1, min(gray.shape) // 20)
    border = np.concatenate(
        [
            blurred[:frame].ravel(),
            blurred[-frame:].ravel(),
            blurred[:, :frame].ravel(),
            blurred[:, -frame:].ravel(),
        ]
    )
    ink = cv2.bitwise_not(blurred) if np.median(border) > 127 else blurred
    # The paper's level: an opening wider than any pen stroke wipes the strokes out and keeps the
    # slow changes of light. Done on a smaller copy, as the level changes slowly anyway.
    height, width = ink.shape
    small = cv2.resize(
        ink,
        (max(1, width // BACKGROUND_SCALE), max(1, height // BACKGROUND_SCALE)),
        interpolation=cv2.INTER_AREA,
    )
    kernel_size = max(3, min(small.shape) // 3) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_size, kernel_size))
    paper = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel)
    paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.subtract(ink, paper)


def _ink_mask(ink: np.ndarray) -> np.ndarray:
    """Binary mask of the ink: Otsu's threshold, but never below MIN_INK_CONTRAST (blank pages)."""
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    _, mask = cv2.threshold(ink, max(otsu, MIN_INK_CONTRAST), 255, cv2.THRESH_BINARY)
    return mask


def _pieces(mask: np.ndarray) -> tuple[np.ndarray, list[_Group]]:
    """Connected pieces of ink without the specks: the label image and one group per piece."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return labels, []
    areas = stats[1:, cv2.CC_STAT_AREA]
    min_area = max(3.0, SPECK_FRACTION * mask.size, SPECK_SHARE_OF_LARGEST * float(areas.max()))
    groups = []
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if area >= min_area:
            groups.append(_Group([label], int(x), int(y), int(x + w), int(y + h)))
    return labels, groups


def _overlap(start_a: int, end_a: int, start_b: int, end_b: int) -> int:
    """Length of the overlap of two half-open ranges."""
    return max(0, min(end_a, end_b) - max(start_a, start_b))


def _same_digit(a: _Group, b: _Group) -> bool:
    """Pieces of one digit: one above the other (broken strokes), not side by side like slanted neighbours."""
    x_shared = _overlap(a.x0, a.x1, b.x0, b.x1)
    y_shared = _overlap(a.y0, a.y1, b.y0, b.y1)
    stacked = x_shared >= 0.5 * min(a.width, b.width) and y_shared <= 0.25 * min(a.height, b.height)
    inside = x_shared == min(a.width, b.width) and y_shared == min(a.height, b.height)
    return stacked or inside


def _merge_pieces(groups: list[_Group]) -> list[_Group]:
    """Join pieces that belong to one digit, until no two more do."""
    merged = list(groups)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                if _same_digit(a, b):
                    merged[i] = _Group(
                        a.labels + b.labels,
                        min(a.x0, b.x0),
                        min(a.y0, b.y0),
                        max(a.x1, b.x1),
                        max(a.y1, b.y1),
                    )
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged


def _group_mask(labels: np.ndarray, group: _Group) -> np.ndarray:
    """Boolean mask, over the group's box, of the pixels that belong to the group's pieces."""
    window = labels[group.y0 : group.y1, group.x0 : group.x1]
    return np.isin(window, group.labels)


def _tight_part(mask: np.ndarray, group: _Group, left: int, right: int) -> _Group | None:
    """The group's ink between two of its columns (half-open), as a group with a tight box."""
    part = mask[:, left:right]
    rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
    if rows.size == 0:
        return None
    return _Group(
        group.labels,
        group.x0 + left + int(cols[0]),
        group.y0 + int(rows[0]),
        group.x0 + left + int(cols[-1]) + 1,
        group.y0 + int(rows[-1]) + 1,
    )


def _best_cut(mask: np.ndarray, digit_height: float) -> int | None:
    """The column to split a blob at: the least ink, leaving both sides a digit's width and height."""
    width = mask.shape[1]
    has_ink = mask.any(axis=0)
    rows = np.arange(mask.shape[0])[:, np.newaxis]
    tops = np.where(has_ink, np.where(mask, rows, mask.shape[0]).min(axis=0), mask.shape[0])
    bottoms = np.where(has_ink, np.where(mask, rows, -1).max(axis=0), -1)
    # heights of the ink left of each cut (columns < cut) and right of it (columns >= cut)
    left_height = np.maximum.accumulate(bottoms) - np.minimum.accumulate(tops) + 1
    right_height = (np.maximum.accumulate(bottoms[::-1]) - np.minimum.accumulate(tops[::-1]) + 1)[::-1]
    cuts = np.arange(1, width)
    tall_enough = (left_height[cuts - 1] >= 0.5 * digit_height) & (right_height[cuts] >= 0.5 * digit_height)
    wide_enough = (cuts >= MIN_PIECE_SHARE * digit_height) & (width - cuts >= MIN_PIECE_SHARE * digit_height)
    cuts = cuts[tall_enough & wide_enough]
    if cuts.size == 0:
        return None
    ink_per_column = np.convolve(mask.sum(axis=0), np.ones(3) / 3, mode="same")
    # Least ink, near where digits of the usual width would meet: the thin middle of a '0' has little
    # ink too, but sits in the middle of a digit.
    count = max(2, round(width / (TYPICAL_ASPECT * digit_height)))
    meeting_points = np.arange(1, count) * width / count
    off_by = np.abs(cuts[:, np.newaxis] - meeting_points).min(axis=1) / (width / count)
    cost = ink_per_column[cuts] / max(float(ink_per_column.max()), 1.0) + CUT_DISTANCE_WEIGHT * off_by**2
    return int(cuts[np.argmin(cost)])


def _upright_width(mask: np.ndarray) -> float:
    """The blob's width once its slant is taken out: a slanted digit's box is wider than the digit."""
    moments = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    slant = moments["mu11"] / moments["mu02"] if moments["mu02"] > 0 else 0.0
    return mask.shape[1] - min(abs(slant), 1.0) * mask.shape[0]


def _split_wide(labels: np.ndarray, group: _Group, digit_height: float) -> list[_Group]:
    """Split a blob of touching digits at the column with the least ink, again until no piece is wide."""
    if group.width <= WIDE_RATIO * digit_height:
        return [group]
    mask = _group_mask(labels, group)
    if _upright_width(mask) <= WIDE_RATIO * digit_height:
        return [group]
    cut = _best_cut(mask, digit_height)
    if cut is None:
        return [group]
    parts = [_tight_part(mask, group, 0, cut), _tight_part(mask, group, cut, group.width)]
    return [piece for part in parts if part is not None for piece in _split_wide(labels, part, digit_height)]


def _crop(ink: np.ndarray, labels: np.ndarray, group: _Group) -> np.ndarray:
    """The group's ink (bright on dark) in its box, with anything from neighbouring digits blanked out."""
    keep = _group_mask(labels, group).astype(np.uint8)
    keep = cv2.dilate(keep, np.ones((3, 3), np.uint8))  # keep the soft edges of the strokes
    return ink[group.y0 : group.y1, group.x0 : group.x1] * keep


def find_digits(image: np.ndarray) -> list[DigitBox]:
    """The digits in a gray or BGR image (dark ink on light paper or light on dark), left to right."""
    ink = ink_map(image)
    labels, groups = _pieces(_ink_mask(ink))
    groups = _merge_pieces(groups)
    if not groups:
        return []
    tallest = max(group.height for group in groups)
    groups = [group for group in groups if group.height >= MIN_HEIGHT_SHARE * tallest]
    digit_height = float(np.median([group.height for group in groups]))
    digits = [part for group in groups for part in _split_wide(labels, group, digit_height)]
    digits.sort(key=lambda group: (group.x0 + group.x1) / 2)
    return [DigitBox(d.x0, d.y0, d.width, d.height, _crop(ink, labels, d)) for d in digits]
