"""Photos of paper: even out the light, then take away ruled and squared lines, margins and underlines.

`ink_on_paper` turns a photo of dark ink on light paper into an ink map (uint8, ink bright, paper 0):

1. Light: the page's brightness is estimated by a closing wider than any pen stroke, on the brightest
   channel, and divided out. A closing leaves monotone changes alone, so a shadow's edge or a gradient
   is followed exactly while the strokes are wiped out.
2. Colour (for a colour image): ink is dark in every channel, while light blue rules, red margins and faint
   grids are dark in one or two only: the brightest channel's darkness keeps the ink and all but drops
   coloured lines. (The lines themselves are looked for in the channels' mean, where they show best.) The
   segmenter passes gray: on 300 generated photos, colour read as many numbers exactly (within one per 50).
3. Shape: lines that are still there (grey grids, pale rules under strong shadow, underlines) are found as
   long straight segments (probabilistic Hough transform) and removed, except where a stroke crosses them.
"""

from __future__ import annotations

import cv2
import numpy as np

BOARD_LEVEL = 0.3  # an image this dark (median, 0..1) is a board, not a page (even in deep shadow)
LIGHT_SCALE = 4  # the page's light is estimated on an image this many times smaller (speed)
LIGHT_KERNEL_SHARE = 1 / 8  # closing size, as a share of the image's shorter side: wider than any stroke
RULE_SHARE = 0.35  # a straight segment this long (share of the image's width or height) is a page line ...
UNDERLINE_HEIGHTS = 2.5  # ... and one this many digit heights long, nearly level, is an underline
MAX_LINE_TILT = 12  # degrees: lines of the page are within this of level or upright
MIN_PAGE_LINES = 3  # the image is lined or squared paper when this many level lines ...
PAGE_LINE_SHARE = 0.6  # ... run across this share of its width ...
LINE_COVERAGE = 0.8  # ... inked along at least this share of their length (a row of bars is no line)
LINE_MARGIN = 2  # px added on each side of a found line's thickness when it is removed
SURE_INK = 1.5  # ink this many times the caller's ink level is surely ink (on a blank page: nothing is) ...
STRONG_SHARE = 0.55  # ... and so is ink at this share of the strongest ink's level ...
FAINT_SHARE = 0.25  # ... and ink down to this share is kept where it joins such ink
LINE_RUN = 21  # px: ink that runs this far along a page line is the line ...
ANGLE_STEP = 2  # ... (lines are grouped by angle, in steps of this many degrees) ...
LINE_LEVEL_MARGIN = 1.5  # ... and taken away up to this many times its typical darkness
GAP_KERNEL = (5, 5)  # gaps in a stroke up to about this size (px) are closed


def _channels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 0..1 of each pixel's brightest channel and of its channels' mean (for gray, the gray twice)."""
    array = np.asarray(image)
    values = array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer) or (values.size and values.max() > 1.0):
        values /= 255.0
    if values.ndim == 3:
        values = values[:, :, :3]
        return values.max(axis=2), values.mean(axis=2)
    return values, values


def _darkness(channel: np.ndarray) -> np.ndarray:
    """How much darker than the page's light each pixel is, as uint8 (a little smoothed)."""
    darkness = np.clip(1.0 - channel / _page_light(channel), 0.0, 1.0)
    return cv2.GaussianBlur(np.round(255 * darkness).astype(np.uint8), (3, 3), 0)


def _page_light(value: np.ndarray) -> np.ndarray:
    """The light falling on the page at each pixel: a closing wider than the strokes, done small."""
    height, width = value.shape
    small = cv2.resize(
        value,
        (max(1, width // LIGHT_SCALE), max(1, height // LIGHT_SCALE)),
        interpolation=cv2.INTER_AREA,
    )
    size = max(3, int(min(value.shape) * LIGHT_KERNEL_SHARE / LIGHT_SCALE)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    light = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    light = cv2.GaussianBlur(light, (0, 0), 1.0)
    return np.maximum(cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR), 1e-3)


def _line_segments(mask: np.ndarray, min_length: float) -> np.ndarray:
    """Straight segments (x0, y0, x1, y1) at least `min_length` long that are nearly level or upright."""
    found = cv2.HoughLinesP(
        mask,
        1,
        np.pi / 360,
        threshold=max(10, int(min_length / 2)),
        minLineLength=int(min_length),
        maxLineGap=int(min_length / 8) + 3,
    )
    if found is None:
        return np.zeros((0, 4), np.int32)
    segments = found.reshape(-1, 4)
    dx, dy = segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1]
    angle = np.degrees(np.arctan2(np.abs(dy), np.abs(dx)))
    keep = (angle <= MAX_LINE_TILT) | (angle >= 90 - MAX_LINE_TILT)
    return segments[keep]


def _coverage(mask: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """For each segment: the share of its length that is ink in `mask` (within a pixel across it)."""
    thick = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    shares = []
    for x0, y0, x1, y1 in segments:
        steps = max(abs(int(x1) - int(x0)), abs(int(y1) - int(y0))) + 1
        xs = np.clip(np.round(np.linspace(x0, x1, steps)).astype(int), 0, mask.shape[1] - 1)
        ys = np.clip(np.round(np.linspace(y0, y1, steps)).astype(int), 0, mask.shape[0] - 1)
        shares.append(np.count_nonzero(thick[ys, xs]) / steps)
    return np.asarray(shares, np.float64)


def _is_level(segments: np.ndarray) -> np.ndarray:
    """For each segment (x0, y0, x1, y1): True when it is nearer level than upright."""
    return np.abs(segments[:, 3] - segments[:, 1]) <= np.abs(segments[:, 2] - segments[:, 0])


def _level(segments: np.ndarray) -> np.ndarray:
    """The segments that are nearer level than upright."""
    return segments[_is_level(segments)]


def _across_page(segments: np.ndarray, height: int, width: int) -> np.ndarray:
    """The segments lengthened to the image's edges (a page's lines run across it)."""
    out = []
    for x0, y0, x1, y1 in segments.astype(np.float64):
        if abs(x1 - x0) >= abs(y1 - y0):
            slope = (y1 - y0) / (x1 - x0)
            out.append((0, y0 - slope * x0, width - 1, y0 + slope * (width - 1 - x0)))
        else:
            slope = (x1 - x0) / (y1 - y0)
            out.append((x0 - slope * y0, 0, x0 + slope * (height - 1 - y0), height - 1))
    return np.round(np.array(out, np.float64).reshape(-1, 4)).astype(np.int32)


def _line_thickness(mask: np.ndarray, segments: np.ndarray) -> int:
    """The typical thickness of the lines in `mask` along the segments, in px (at least 1)."""
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    samples = []
    for x0, y0, x1, y1 in segments:
        count = max(2, int(np.hypot(x1 - x0, y1 - y0) // 4))
        xs = np.clip(np.linspace(x0, x1, count).round().astype(int), 0, mask.shape[1] - 1)
        ys = np.clip(np.linspace(y0, y1, count).round().astype(int), 0, mask.shape[0] - 1)
        samples.append(distance[ys, xs])
    values = np.concatenate(samples) if samples else np.zeros(1)
    values = np.minimum(values[values > 0], max(mask.shape))  # no paper in the mask: no real distance
    return max(1, int(round(2 * float(np.median(values))))) if values.size else 1


def _remove_lines(ink: np.ndarray, mask: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """The ink with the segments' pixels cleared, except where a stroke runs across a line."""
    if len(segments) == 0:
        return ink
    band = np.zeros_like(mask)
    thickness = _line_thickness(mask, segments) + 2 * LINE_MARGIN
    for x0, y0, x1, y1 in segments:
        cv2.line(band, (int(x0), int(y0)), (int(x1), int(y1)), 255, thickness)
    level = _is_level(segments)
    off_band = cv2.bitwise_and(mask, cv2.bitwise_not(band))
    # A stroke crossing a level line has ink just above and just below the band: a closing across the
    # band joins them again (and one along the band for upright lines).
    kept = np.zeros_like(mask)
    for is_level, shape in ((True, (1, thickness + 3)), (False, (thickness + 3, 1))):
        if (level == is_level).any():
            across = cv2.morphologyEx(off_band, cv2.MORPH_CLOSE, np.ones(shape, np.uint8))
            kept = cv2.bitwise_or(kept, across)
    keep = cv2.bitwise_or(cv2.bitwise_not(band), cv2.bitwise_and(band, kept))
    return cv2.bitwise_and(ink, keep)


def _line_kernel(angle: float) -> np.ndarray:
    """A one-pixel line LINE_RUN px long at `angle` degrees, as a structuring element."""
    size = LINE_RUN | 1
    kernel = np.zeros((size, size), np.uint8)
    dx, dy = np.cos(np.radians(angle)) * size / 2, np.sin(np.radians(angle)) * size / 2
    centre = size // 2
    cv2.line(kernel, (round(centre - dx), round(centre - dy)), (round(centre + dx), round(centre + dy)), 1, 1)
    return kernel


def _subtract_lines(ink: np.ndarray, mask: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """The ink less the page lines along the segments: near each line, whatever runs along it for
    LINE_RUN px (a top-hat along the line) is taken away, but never more than the line's own darkness,
    so strokes that cross it stay, and so do strokes that run along it (the foot of a 2 on its line)."""
    if len(segments) == 0:
        return ink
    thickness = _line_thickness(mask, segments) + 2 * LINE_MARGIN
    angles = np.degrees(np.arctan2(segments[:, 3] - segments[:, 1], segments[:, 2] - segments[:, 0])) % 180
    groups = np.round(angles / ANGLE_STEP).astype(int) % round(180 / ANGLE_STEP)
    out = ink.copy()
    for group in np.unique(groups):
        band = np.zeros_like(mask)
        for x0, y0, x1, y1 in segments[groups == group]:
            cv2.line(band, (int(x0), int(y0)), (int(x1), int(y1)), 255, thickness)
        rows, cols = np.nonzero(band)
        top, bottom = max(0, rows.min() - LINE_RUN), rows.max() + LINE_RUN + 1
        left, right = max(0, cols.min() - LINE_RUN), cols.max() + LINE_RUN + 1
        window = ink[top:bottom, left:right]
        along = cv2.morphologyEx(window, cv2.MORPH_OPEN, _line_kernel(group * ANGLE_STEP))
        darkest = np.zeros_like(window)  # each line's own darkness: its typical value along it
        nearby = cv2.dilate(
            along, np.ones((thickness, thickness), np.uint8)
        )  # (the segment may be off by a px)
        for x0, y0, x1, y1 in segments[groups == group]:
            count = max(2, int(np.hypot(x1 - x0, y1 - y0) // 2))
            xs = np.clip(np.linspace(x0, x1, count).round().astype(int) - left, 0, window.shape[1] - 1)
            ys = np.clip(np.linspace(y0, y1, count).round().astype(int) - top, 0, window.shape[0] - 1)
            level = LINE_LEVEL_MARGIN * float(np.median(nearby[ys, xs])) + 2
            start, end = (int(x0) - left, int(y0) - top), (int(x1) - left, int(y1) - top)
            cv2.line(darkest, start, end, min(255, round(level)), thickness)
        along = np.minimum(along, darkest)
        inside = band[top:bottom, left:right] > 0
        region = out[top:bottom, left:right]
        region[inside] = cv2.subtract(region, along)[inside]
    return out


def _whole_strokes(ink: np.ndarray, ink_level: int) -> np.ndarray:
    """Hysteresis: faint stretches of ink are kept when they join strong ink, and lifted clear of
    `ink_level` (a thin pen's line fades in and out); everything else becomes 0."""
    values = ink[ink >= ink_level]
    if values.size == 0:
        return np.zeros_like(ink)
    strong_level = float(np.percentile(values, 99))
    high = max(SURE_INK * ink_level, STRONG_SHARE * strong_level)
    low = max(ink_level / 3, FAINT_SHARE * strong_level)
    count, labels = cv2.connectedComponents((ink >= low).astype(np.uint8), connectivity=8)
    seeded = np.zeros(count, bool)
    seeded[np.unique(labels[ink >= high])] = True
    seeded[0] = False
    keep = seeded[labels]
    lifted = 128 + 127 * np.clip((ink.astype(np.float32) - low) / max(strong_level - low, 1.0), 0, 1)
    return np.where(keep, lifted, 0).astype(np.uint8)


def _digit_height(mask: np.ndarray) -> float:
    """The median height of the ink's pieces that are taller than specks (0 when there are none)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    areas = stats[1:, cv2.CC_STAT_AREA]
    if heights.size == 0:
        return 0.0
    big = heights[areas >= 0.05 * areas.max()]
    return float(np.median(big))


def ink_on_paper(image: np.ndarray, ink_level: int) -> np.ndarray | None:
    """The ink of a photo of dark ink on light paper as uint8 (ink bright, paper 0), page lines removed.

    `ink_level` (0..255) is where the caller will draw the line between ink and paper. Returns None when the
    image is not lined paper (plain paper, light ink on a dark board: left to the caller).
    """
    value, mean = _channels(image)
    if value.ndim != 2 or value.size == 0 or float(np.median(value)) <= BOARD_LEVEL:
        return None
    ink = _darkness(value)
    # the page's lines are found where they show best: in the channels' mean (a light blue rule is
    # nearly white in the brightest channel, which is what keeps it out of the ink)
    mask = np.where(_darkness(mean) >= ink_level // 3, 255, 0).astype(np.uint8)
    height, width = mask.shape
    level_lines = _level(_line_segments(mask, RULE_SHARE * width))
    lengths = np.abs(level_lines[:, 2] - level_lines[:, 0])
    long_lines = level_lines[lengths >= PAGE_LINE_SHARE * width]
    if np.count_nonzero(_coverage(mask, long_lines) >= LINE_COVERAGE) < MIN_PAGE_LINES:
        return None  # plain paper, a board or a crop: the caller's own levelling does
    upright_lines = _line_segments(mask, RULE_SHARE * height)
    page_lines = _across_page(
        np.concatenate([level_lines, upright_lines[~_is_level(upright_lines)]]), height, width
    )
    ink = _subtract_lines(ink, mask, page_lines)
    ink = _whole_strokes(ink, ink_level)
    # close the small gaps a line's removal or a skipping pen leaves in a stroke
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, GAP_KERNEL))
    mask = np.where(ink >= ink_level, 255, 0).astype(np.uint8)
    digit_height = _digit_height(mask)
    if digit_height > 0:
        underlines = _line_segments(mask, UNDERLINE_HEIGHTS * digit_height)
        ink = _remove_lines(ink, mask, _level(underlines))
    return ink
