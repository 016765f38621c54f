"""Find the digits in a photo, scan or video frame: threshold, connected pieces, merge, split, sort."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from digitkit.paper import ink_on_paper
from digitkit.pixels import border_median, scaled_size, to_gray, work_scale

SPECK_SIDE_SHARE = 0.005  # pieces shorter than this share of the image's longer side are noise ...
SPECK_SHARE_OF_LARGEST = 0.04  # ... and so are pieces below this share of the largest piece's area
MAX_PIECES = 400  # only the largest pieces are considered (a row of digits has far fewer) ...
MAX_DIGITS = 300  # ... and more digits than this is a page of text or a pattern, not digits to read
MIN_HEIGHT_SHARE = 0.3  # a digit is at least this share of the tallest digit's height
MIN_INK_CONTRAST = 35  # ink must stand out from the paper by this much (0..255) after levelling
WIDE_RATIO = (
    1.0  # a blob wider than this times the digits' height, slant taken out, holds touching digits ...
)
TYPICAL_ASPECT = 0.75  # ... of digits about this wide (times their height), meeting ...
CUT_DISTANCE_WEIGHT = 1.5  # ... where the ink is thinnest, near where such digits would meet
MIN_PIECE_SHARE = 0.3  # ... and is split into pieces at least this share of the height wide
LINE_RATIO = 25  # a blob wider than this times the digits' height is a line or a rule, not touching digits
BACKGROUND_SCALE = 4  # the uneven paper is estimated on an image this many times smaller (speed)


class TooManyDigitsError(ValueError):
    """The image holds more digit-like shapes than MAX_DIGITS: a page of text or a pattern."""


@dataclass(frozen=True)
class DigitBox:
    """One digit found in an image: its box in the image's pixels and its crop (ink bright on dark).

    The crop comes from the resolution the search worked at: the box's own size for images up to
    digitkit.pixels.WORK_PIXELS, smaller beyond.
    """

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


def ink_map(image: np.ndarray, paper: bool = True) -> np.ndarray:
    """The image as uint8 with ink bright and the (possibly unevenly lit) paper levelled to about 0; with
    `paper`, dark ink on a page is cleaned of shadows and the page's lines first (paper.py)."""
    on_paper = ink_on_paper(image, MIN_INK_CONTRAST) if paper else None
    if on_paper is not None:
        return on_paper
    gray = to_gray(image)
    if gray.size == 0:
        return gray.copy()
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    ink = cv2.bitwise_not(blurred) if border_median(blurred) > 127 else blurred
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
    """Connected pieces of ink without the specks (the MAX_PIECES largest): the label image and one group each."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return labels, []
    stats = stats[1:]
    areas = stats[:, cv2.CC_STAT_AREA]
    sides = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    min_area = max(3.0, SPECK_SHARE_OF_LARGEST * float(areas.max()))
    min_side = SPECK_SIDE_SHARE * max(mask.shape)
    kept = np.flatnonzero((areas >= min_area) & (sides >= min_side))
    if kept.size > MAX_PIECES:
        kept = np.sort(kept[np.argsort(areas[kept], kind="stable")[::-1][:MAX_PIECES]])
    groups = []
    for index in kept:
        x, y, w, h = (int(v) for v in stats[index, :4])
        groups.append(_Group([int(index) + 1], x, y, x + w, y + h))
    return labels, groups


def _same_digit(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Which boxes (x0, y0, x1, y1 rows) hold pieces of one digit with which others: a (len, len) matrix.

    Pieces of one digit sit one above the other (broken strokes), not side by side like slanted
    neighbours, or one inside the other.
    """
    a, b = boxes[:, np.newaxis, :], others[np.newaxis, :, :]
    x_shared = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
    y_shared = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
    narrower = np.minimum(a[..., 2] - a[..., 0], b[..., 2] - b[..., 0])
    shorter = np.minimum(a[..., 3] - a[..., 1], b[..., 3] - b[..., 1])
    stacked = (x_shared >= 0.5 * narrower) & (y_shared <= 0.25 * shorter)
    inside = (x_shared == narrower) & (y_shared == shorter)
    return stacked | inside


def _merge_pieces(groups: list[_Group]) -> list[_Group]:
    """Join pieces that belong to one digit, a pair at a time (the first pair in list order), until no two do."""
    merged = list(groups)
    boxes = np.array([(g.x0, g.y0, g.x1, g.y1) for g in merged], dtype=np.int64).reshape(-1, 4)
    pairs = np.triu(_same_digit(boxes, boxes), 1)  # pairs[i, j] for i < j
    while pairs.any():
        i, j = divmod(int(np.argmax(pairs)), len(merged))
        a, b = merged[i], merged[j]
        merged[i] = _Group(
            a.labels + b.labels, min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1)
        )
        del merged[j]
        boxes = np.delete(boxes, j, axis=0)
        boxes[i] = (merged[i].x0, merged[i].y0, merged[i].x1, merged[i].y1)
        pairs = np.delete(np.delete(pairs, j, axis=0), j, axis=1)
        row = _same_digit(boxes[i : i + 1], boxes)[0]
        pairs[i, i + 1 :] = row[i + 1 :]
        pairs[:i, i] = row[:i]
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


def _cut_in_two(labels: np.ndarray, group: _Group, digit_height: float) -> list[_Group] | None:
    """The two parts of a blob of touching digits, cut at the column with the least ink; None if not wide."""
    if group.width <= WIDE_RATIO * digit_height:
        return None
    mask = _group_mask(labels, group)
    if _upright_width(mask) <= WIDE_RATIO * digit_height:
        return None
    cut = _best_cut(mask, digit_height)
    if cut is None:
        return None
    parts = [_tight_part(mask, group, 0, cut), _tight_part(mask, group, cut, group.width)]
    return [part for part in parts if part is not None]


def _split_wide(labels: np.ndarray, groups: list[_Group], digit_height: float) -> list[_Group]:
    """Split blobs of touching digits into digits, cutting again until no part is wide.

    A loop, not recursion, and bounded: each cut leaves parts at least MIN_PIECE_SHARE of a digit's height
    wide, and TooManyDigitsError stops it once there are more than MAX_DIGITS parts.
    """
    digits, todo = [], list(groups)
    while todo:
        if len(digits) + len(todo) > MAX_DIGITS:
            raise TooManyDigitsError(
                f"more than {MAX_DIGITS} digit-like shapes: a page of text or a pattern, not digits to read"
            )
        part = todo.pop()
        halves = _cut_in_two(labels, part, digit_height)
        if halves is None:
            digits.append(part)
        else:
            todo.extend(halves)
    return digits


def _crop(ink: np.ndarray, labels: np.ndarray, group: _Group) -> np.ndarray:
    """The group's ink (bright on dark) in its box, with anything from neighbouring digits blanked out."""
    keep = _group_mask(labels, group).astype(np.uint8)
    keep = cv2.dilate(keep, np.ones((3, 3), np.uint8))  # keep the soft edges of the strokes
    return ink[group.y0 : group.y1, group.x0 : group.x1] * keep


def find_digits(
    image: np.ndarray, paper: bool = True, merge: bool = True, heights: bool = True, split: bool = True
) -> list[DigitBox]:
    """The digits in a gray or BGR image (dark ink on light paper or light on dark), left to right.

    Large images are searched at a lower resolution (digitkit.pixels.WORK_PIXELS); the boxes are in the
    image's own pixels. TooManyDigitsError when there are more than MAX_DIGITS. The steps can be switched
    off, to measure them (benchmarks/bench_writers.py): `paper` (shadows and page lines taken out),
    `merge` (pieces one above the other joined), `heights` (pieces far shorter than the tallest dropped),
    `split` (blobs of touching digits cut).
    """
    gray = to_gray(image)
    if gray.size == 0:
        return []
    height, width = gray.shape
    scale = work_scale(height, width)
    if scale < 1:
        # at most WORK_PIXELS: connected pieces of a 1 x 4,000,000 strip cost OpenCV 2 GB and 10 s
        gray = cv2.resize(gray, scaled_size(height, width, scale), interpolation=cv2.INTER_AREA)
    ink = ink_map(gray, paper)
    labels, groups = _pieces(_ink_mask(ink))
    if merge:
        groups = _merge_pieces(groups)
    if not groups:
        return []
    tallest = max(group.height for group in groups)
    if heights:
        groups = [group for group in groups if group.height >= MIN_HEIGHT_SHARE * tallest]
    digit_height = float(np.median([group.height for group in groups]))
    groups = [group for group in groups if group.width <= LINE_RATIO * digit_height]
    digits = _split_wide(labels, groups, digit_height) if split else groups
    if len(digits) > MAX_DIGITS:
        raise TooManyDigitsError(
            f"more than {MAX_DIGITS} digit-like shapes: a page of text or a pattern, not digits to read"
        )
    digits.sort(key=lambda group: (group.x0 + group.x1) / 2)
    return [_box_in_image(d, scale, height, width, _crop(ink, labels, d)) for d in digits]


def _box_in_image(group: _Group, scale: float, height: int, width: int, crop: np.ndarray) -> DigitBox:
    """The group's box in the pixels of the image the search was given (it may have worked smaller)."""
    if scale == 1:
        return DigitBox(group.x0, group.y0, group.width, group.height, crop)
    x0, y0 = int(group.x0 / scale), int(group.y0 / scale)
    x1, y1 = min(width, int(np.ceil(group.x1 / scale))), min(height, int(np.ceil(group.y1 / scale)))
    return DigitBox(x0, y0, max(1, x1 - x0), max(1, y1 - y0), crop)
