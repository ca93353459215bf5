"""A fixed-pitch OCR-B recogniser for MRZ crops: segment by pitch, classify by template.

Doc 9303 Part 3 prints the MRZ in OCR-B at a fixed 10 characters per inch, so, unlike general
text, every character sits in a cell whose position follows from the line's pitch. This
recogniser finds each line's cells from its connected components and classifies every cell
against the 37 glyphs rendered from an OCR-B font (Debian ``fonts-ocr-b``) by normalised
correlation. It was added because Tesseract's general English model reads runs of ``<`` as
``K`` and invents characters in wide gaps (docs/benchmarks_documents.md has both figures).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from bordermatch.errors import DocumentError

CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
CELL = (20, 28)  # width, height every cell and template is compared at
_SHIFTS = (-3, -2, -1, 0, 1, 2, 3)


def glyph_templates(font_path: Path, pitch_ratio: float | None = None,
                    top_char: str = "H") -> NDArray[np.float32]:
    """(37, H, W) zero-mean, unit-norm templates, one cell each: from the top of ``top_char``
    to the baseline, and ``pitch_ratio`` times that wide (the font's advance when None).

    OCR-B's digits stand taller than its capitals, so a line's ink starts at the digits' top
    when it holds a digit and at the capitals' otherwise: the reader tries both ("H", "0")."""
    font = ImageFont.truetype(str(font_path), 96)
    advance = font.getlength("H")
    top, bottom = font.getbbox(top_char)[1], font.getbbox("H")[3]
    width = advance if pitch_ratio is None else pitch_ratio * (bottom - top)
    out = []
    for ch in CHARS:
        img = Image.new("L", (int(advance + 2 * width), 200), 255)
        ImageDraw.Draw(img).text((width, 0), ch, font=font, fill=0)
        centre = width + advance / 2
        cell = np.asarray(img)[top:bottom, round(centre - width / 2):round(centre + width / 2)]
        out.append(_normalise(cv2.resize(255 - cell, CELL, interpolation=cv2.INTER_AREA)))
    return np.stack(out)


def _normalise(a: NDArray) -> NDArray[np.float32]:
    a = a.astype(np.float32)
    a -= a.mean()
    n = np.linalg.norm(a)
    return a / n if n > 0 else a


def _line_bands(ink: NDArray[np.bool_]) -> list[tuple[int, int]]:
    rows = ink.sum(axis=1)
    on = rows > max(2, 0.02 * ink.shape[1])
    bands, start = [], None
    for y, v in enumerate(np.append(on, False)):
        if v and start is None:
            start = y
        elif not v and start is not None:
            if y - start >= 6:
                bands.append((start, y))
            start = None
    return bands


def _components(band: NDArray[np.bool_]) -> list[tuple[float, float, int]]:
    # The stubs bind a positional 8 to ``labels`` (an output); cv2 accepts it.
    n, _, stats, centroids = cv2.connectedComponentsWithStats(band.astype(np.uint8), 8)  # type: ignore[call-overload]
    h = band.shape[0]
    return [(float(centroids[i][0]), float(stats[i][2]), int(stats[i][3])) for i in range(1, n)
            if stats[i][3] >= 0.3 * h and stats[i][4] >= 8]


def _fit_pitch(centres: list[float], widths: tuple[int, ...]) -> tuple[float, float, int]:
    """Origin, pitch and character count of a line from its glyph centres."""
    xs = np.sort(np.asarray(centres))
    gaps = np.diff(xs)
    if len(gaps) < 5:
        raise DocumentError("too few characters in an MRZ line")
    pitch = float(np.median(gaps))  # most neighbours are adjacent characters
    best: tuple[float, float, int] | None = None
    for count in widths:
        span = xs[-1] - xs[0]
        p = span / (count - 1)
        if best is None or abs(p - pitch) < abs(best[1] - pitch):
            best = (float(xs[0]), p, count)
    assert best is not None  # widths is never empty
    origin, p, count = best
    idx = np.round((xs - origin) / p)
    a = np.vstack([np.ones_like(idx), idx]).T
    (origin, p), *_ = np.linalg.lstsq(a, xs, rcond=None)
    return float(origin), float(p), count


class OcrbRecognizer:
    """Callable ``binary image -> text`` (the ``ocr.Recognizer`` shape)."""

    def __init__(self, font_path: Path, line_px: int = 64) -> None:
        self.font_path = font_path
        self.line_px = line_px  # crop height per line it wants from ocr.binarise
        self._cache: dict[tuple[float, str], NDArray[np.float32]] = {}

    def _templates(self, ratio: float, top_char: str) -> NDArray[np.float32]:
        key = (round(ratio, 2), top_char)  # the pitch-to-height ratio of the line being read
        if key not in self._cache:
            self._cache[key] = glyph_templates(self.font_path, *key).reshape(len(CHARS), -1)
        return self._cache[key]

    def __call__(self, binary: NDArray[np.uint8]) -> str:
        return "\n".join(text for text, _ in self.read(binary))

    def read(self, binary: NDArray[np.uint8]) -> list[tuple[str, list[float]]]:
        """Each line's text with, per character, the correlation margin of the best glyph
        over the runner-up (small: the glyph was nearly read as something else)."""
        ink = binary < 128
        bands = _line_bands(ink)
        bands = bands[-3:]  # the crop may catch a line of the page above the MRZ
        widths = (30,) if len(bands) == 3 else (36, 44)
        return [self._read_line(ink, top, bottom, widths) for top, bottom in bands]

    def _read_line(self, ink: NDArray[np.bool_], top: int, bottom: int,
                   widths: tuple[int, ...]) -> tuple[str, list[float]]:
        band = ink[top:bottom]
        comps = _components(band)
        if len(comps) < 6:
            return "", []
        origin, pitch, count = _fit_pitch([c[0] for c in comps], widths)
        # Snap each cell to the glyph nearest its fitted centre: perspective and lens
        # distortion bend a line's pitch, so a straight fit drifts by its far end.
        xs = np.sort([c[0] for c in comps])
        centres = origin + pitch * np.arange(count)
        near = np.searchsorted(xs, centres).clip(1, len(xs) - 1)
        nearest = np.where(np.abs(xs[near - 1] - centres) < np.abs(xs[near] - centres),
                           xs[near - 1], xs[near])
        centres = np.where(np.abs(nearest - centres) < pitch / 3, nearest, centres)
        readings = [self._classify(band, centres, pitch,  # type: ignore[arg-type]  # float64
                                   self._templates(pitch / (bottom - top), top_char))
                    for top_char in ("H", "0")]
        _, text, margins = max(readings, key=lambda r: r[0])
        return text, margins

    @staticmethod
    def _classify(band: NDArray[np.bool_], centres: NDArray[np.float64], pitch: float,
                  flat: NDArray[np.float32]) -> tuple[float, str, list[float]]:
        """(total score, text, margins) of a line's cells against one template set."""
        text, total, margins = [], 0.0, []
        for centre in centres:
            best_char, best_score, margin = "<", -2.0, 0.0
            for dx in _SHIFTS:
                x0 = round(centre - pitch / 2 + dx * pitch / 20)
                x1 = x0 + round(pitch)
                if x0 < 0 or x1 > band.shape[1]:
                    continue
                cell = band[:, x0:x1].astype(np.uint8) * 255
                vec = _normalise(cv2.resize(cell, CELL, interpolation=cv2.INTER_AREA)).ravel()
                scores = flat @ vec
                top2 = np.partition(scores, -2)[-2:]
                k = int(np.argmax(scores))
                if scores[k] > best_score:
                    best_char, best_score = CHARS[k], float(scores[k])
                    margin = float(top2[1] - top2[0])
            text.append(best_char)
            margins.append(margin)
            total += best_score
        return total, "".join(text), margins
