"""Read the MRZ from a photo of a data page: locate, deskew, binarise, recognise, correct.

1. **Locate** (``locate_mrz``): the MRZ is the one block of dense, evenly spaced dark
   characters on the page. A black-hat transform keeps dark strokes smaller than a character,
   a horizontal gradient keeps text, and closings join characters into lines and lines into a
   block; the widest, flattest block is the MRZ. Its rotated rectangle gives the skew.
2. **Binarise**: dividing by a closing (the local paper brightness) removes glare and the
   background print before Otsu's threshold, which a global threshold alone cannot survive.
3. **Recognise**: Tesseract's LSTM with the MRZ alphabet as whitelist and its dictionaries off
   (a ``Recognizer``, so tests and other engines can stand in).
4. **Correct** (``correct``): every MRZ position has a character class (digits, letters or
   both). Class-forcing fixes 0/O, 1/I, 2/Z, 5/S, 6/G, 8/B where only one reading is legal;
   in mixed fields the check digit picks the smallest set of confusable swaps that passes.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import cv2
import numpy as np
from numpy.typing import NDArray

from bordermatch.documents import mrz
from bordermatch.documents.countries import is_known_code
from bordermatch.errors import DocumentError, ModelNotFoundError

Recognizer = Callable[[NDArray[np.uint8]], str]  # binary image (text black) -> text lines

TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "G": "6",
            "B": "8"}
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"}
# What a character may really be when a check digit says a mixed field is wrong.
# Few alternatives on purpose: each candidate passes a check digit by chance one time in ten.
SWAPS = {"0": "O", "O": "0", "Q": "O0", "D": "0", "1": "I", "I": "1", "2": "Z", "Z": "2",
         "5": "S", "S": "5", "6": "G", "G": "6", "8": "B", "B": "8", "K": "<", "<": "K"}
# The first letter of a document code is one of a few; misreads map to the nearest allowed.
_CODE_FIRST = {"1": "I", "J": "I", "L": "I", "T": "I", "F": "P", "R": "P", "B": "P", "Y": "V",
               "0": "C", "O": "C", "G": "C", "4": "A"}
_LETTER_FIELDS = {"document_code", "issuing_state", "nationality", "name", "sex"}
_DIGIT_FIELDS = {"birth_date", "expiry_date"}
_MAX_SWAPS = 12  # confusable positions considered in one field
_MAX_CHANGED = 2  # at most this many of them changed at once


@dataclass(frozen=True, slots=True)
class Correction:
    line: int
    column: int
    read: str
    corrected: str
    reason: str  # "class" (only one reading is legal there) or "check_digit"


@dataclass(frozen=True, slots=True)
class OcrResult:
    lines_read: tuple[str, ...]  # what the recogniser returned, fitted to the layout
    lines: tuple[str, ...]  # after correction
    corrections: tuple[Correction, ...]
    mrz: mrz.MrzResult
    box: tuple[tuple[float, float], ...]  # corners of the MRZ block in the input image
    # (line, column) of characters no check covers (names, codes, sex) that the recogniser
    # nearly read as another glyph: where a misread would pass unnoticed, for the officer.
    uncertain: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return self.mrz.to_dict() | {
            "lines_read": list(self.lines_read),
            "corrections": [{"line": c.line + 1, "position": c.column + 1, "read": c.read,
                             "corrected": c.corrected, "reason": c.reason}
                            for c in self.corrections],
            "uncertain": [{"line": ln + 1, "position": col + 1,
                           "field": mrz.field_at(self.mrz.type, ln, col)}
                          for ln, col in self.uncertain] if self.mrz.type else [],
            "box": [list(p) for p in self.box]}


def tesseract_recognizer(binary: str | None = None, timeout_s: float = 30.0) -> Recognizer:
    """Tesseract 4+ (LSTM) limited to the MRZ alphabet; raises if the binary is missing."""
    exe = binary or shutil.which("tesseract")
    if exe is None:
        raise ModelNotFoundError("tesseract is not installed (Debian: apt-get install "
                                 "tesseract-ocr); the MRZ can still be typed: document mrz")

    def recognise(image: NDArray[np.uint8]) -> str:
        ok, png = cv2.imencode(".png", image)
        if not ok:
            raise DocumentError("could not encode the MRZ crop for tesseract")
        # psm 6: one uniform block of text, which an MRZ crop is.
        cmd = [exe, "stdin", "stdout", "--oem", "1", "--psm", "6", "-l", "eng",
               "-c", "tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<",
               "-c", "load_system_dawg=0", "-c", "load_freq_dawg=0"]
        done = subprocess.run(cmd, input=png.tobytes(), capture_output=True, timeout=timeout_s,
                              check=False)
        if done.returncode != 0:
            raise DocumentError(f"tesseract failed: {done.stderr.decode(errors='replace')[:200]}")
        return done.stdout.decode("ascii", errors="replace")

    return recognise


def locate_mrz(gray: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """The deskewed grey crop of the MRZ block and its four corners in ``gray``."""
    scale = 800.0 / gray.shape[1]
    small = cv2.resize(gray, (800, max(1, round(gray.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (3, 3), 0)
    blackhat = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (15, 7)))
    grad = np.abs(cv2.Sobel(blackhat, cv2.CV_32F, 1, 0, ksize=3))
    # An explicit output array: OpenCV's stubs disagree across releases on whether dst may
    # be None.
    grad = cv2.normalize(grad, np.empty_like(grad), 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    grad = cv2.morphologyEx(grad, cv2.MORPH_CLOSE,
                            cv2.getStructuringElement(cv2.MORPH_RECT, (21, 5)))
    _, mask = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE,
                            cv2.getStructuringElement(cv2.MORPH_RECT, (25, 19)))
    mask = cv2.erode(mask, None, iterations=2)  # type: ignore[call-overload]
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best, best_score = None, 0.0
    for contour in contours:
        rect = cv2.minAreaRect(contour)
        (w, h) = rect[1]
        if w < h:
            w, h = h, w
        if w < 0.35 * small.shape[1] or h < 8 or w / h < 3 or w / h > 30:
            continue
        # The MRZ is the widest block, and lies in the page's lower part.
        score = w * (1.0 + rect[0][1] / small.shape[0])
        if score > best_score:
            best, best_score = rect, score
    if best is None:
        raise DocumentError("no machine-readable zone found in the image")
    (cx, cy), (w, h), angle = best
    if w < h:
        w, h, angle = h, w, angle - 90
    # Pad the block: the erosion above trimmed the outer characters' edges.
    rect = ((cx / scale, cy / scale), (w / scale * 1.06 + 12, h / scale * 1.25 + 12), angle)
    corners = cv2.boxPoints(rect).astype(np.float32)
    rw, rh = int(rect[1][0]), int(rect[1][1])
    dst = np.array([[0, rh - 1], [0, 0], [rw - 1, 0], [rw - 1, rh - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(_order(corners), dst)
    crop = cv2.warpPerspective(gray, matrix, (rw, rh), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)
    return crop, corners  # type: ignore[return-value]  # cv2 stubs drop the dtype (uint8 here)


def _order(pts: NDArray[np.float32]) -> NDArray[np.float32]:
    """Corners as bottom-left, top-left, top-right, bottom-right (image coordinates)."""
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    tl, br = pts[np.argmin(s)], pts[np.argmax(s)]
    tr, bl = pts[np.argmin(d)], pts[np.argmax(d)]
    return np.array([bl, tl, tr, br], dtype=np.float32)


LINE_PX = 42  # crop height per text line handed to Tesseract (see docs/benchmarks_documents.md)


def binarise(crop: NDArray[np.uint8], line_count_hint: int = 2,
             line_px: int | None = None) -> NDArray[np.uint8]:
    """Black text on white, scaled to ``line_px`` per line (Tesseract's LSTM reads
    characters about 20 px high best; larger ones make it split and invent strokes)."""
    factor = (line_px or LINE_PX) * (line_count_hint + 0.5) / crop.shape[0]
    big = cv2.resize(crop, None, fx=factor, fy=factor,
                     interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    k = max(15, int(big.shape[0] / (line_count_hint + 1)) | 1)
    paper = cv2.morphologyEx(big, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT,
                                                                             (k, k)))
    flat = cv2.divide(big, paper, scale=255)
    _, out = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    # The cv2 stubs drop the dtype (uint8 here).
    return cv2.copyMakeBorder(out, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)  # type: ignore[return-value]


def fit_lines(text: str) -> tuple[str, ...]:
    """The MRZ lines in recogniser output, each brought to its layout's length.

    Recognisers lose or add characters mostly inside runs of fillers, so a line of the wrong
    length is fixed by lengthening or shortening its longest run of ``<``.
    """
    rows = ["".join(ch for ch in row if ch in mrz.ALPHABET) for row in text.splitlines()]
    rows = [r for r in rows if len(r) >= 20]
    if not rows:
        raise DocumentError("no MRZ text recognised in the located zone")
    rows = rows[-3:] if len(rows) >= 3 and all(len(r) < 34 for r in rows[-3:]) else rows[-2:]
    width = 30 if len(rows) == 3 else (44 if np.mean([len(r) for r in rows]) > 40 else 36)
    return tuple(_fit(r, width) for r in rows)


def _fit(row: str, width: int) -> str:
    while len(row) != width:
        runs = [(m.end() - m.start(), m.start()) for m in _FILLER_RUN.finditer(row)]
        if not runs:
            return row[:width].ljust(width, "<")
        _, start = max(runs)
        row = row[:start] + ("<" if len(row) < width else "") + row[start + (len(row) > width):]
    return row


_FILLER_RUN = re.compile("<+")


def correct(lines: tuple[str, ...], today: date | None = None
            ) -> tuple[tuple[str, ...], tuple[Correction, ...]]:
    """Fix OCR confusions using character classes, then the check digits (module docstring)."""
    kind = mrz.detect_type(lines)
    if kind is None:
        return lines, ()
    rows = [list(line) for line in lines]
    fixes: list[Correction] = []
    layout = mrz.LAYOUTS[kind]
    digit_cells = set(layout.digits.values()) | ({layout.composite_at} - {None})
    for ln, row in enumerate(rows):
        for col, ch in enumerate(row):
            field = mrz.field_at(kind, ln, col)
            table = (TO_DIGIT if field in _DIGIT_FIELDS or (ln, col) in digit_cells
                     else TO_LETTER if field in _LETTER_FIELDS else None)
            if table and ch in table:
                row[col] = table[ch]
                fixes.append(Correction(ln, col, ch, row[col], "class"))
    code = rows[0][0]
    if code not in layout.first_letters and _CODE_FIRST.get(code, "?") in layout.first_letters:
        rows[0][0] = _CODE_FIRST[code]
        fixes.append(Correction(0, 0, code, rows[0][0], "class"))
    # Part 3, 4.6: name components are separated by one filler and the two identifiers by
    # two, so after three fillers in a row only fillers can follow.
    ln, a, b = layout.spans["name"]
    name = "".join(rows[ln][a:b])
    if "<<<" in name:
        for col in range(a + name.index("<<<"), b):
            if rows[ln][col] != "<":
                fixes.append(Correction(ln, col, rows[ln][col], "<", "class"))
                rows[ln][col] = "<"
    for name in ("optional_data", "optional_data_2"):
        if name in layout.spans:  # a filler then only fillers and K: the tail is all fillers
            ln, a, b = layout.spans[name]
            tail = re.search(r"<[<K]*$", "".join(rows[ln][a:b]))
            for col in range(a + tail.start(), b) if tail else ():
                if rows[ln][col] == "K":
                    fixes.append(Correction(ln, col, "K", "<", "class"))
                    rows[ln][col] = "<"
    for name in ("issuing_state", "nationality"):
        _fix_country(rows, layout.spans[name], fixes)
    for name, (ln, a, b) in layout.spans.items():
        if name in _LETTER_FIELDS or name in _DIGIT_FIELDS:
            continue
        _swap_until(rows, [(ln, c) for c in range(a, b)], name, fixes, today)
    return tuple("".join(r) for r in rows), tuple(fixes)


def _fix_country(rows: list[list[str]], span: mrz.Span, fixes: list[Correction]) -> None:
    """An unknown code becomes a known one if exactly one confusable swap makes it so."""
    ln, a, b = span
    code = "".join(rows[ln][a:b])
    if is_known_code(code):
        return
    found = {(col, ch) for col in range(a, b) for ch in SWAPS.get(rows[ln][col], "") + "O"
             if ch.isalpha() and is_known_code("".join(ch if c == col else rows[ln][c]
                                                       for c in range(a, b)))}
    if len(found) == 1:
        (col, ch), = found
        fixes.append(Correction(ln, col, rows[ln][col], ch, "country"))
        rows[ln][col] = ch


def _swap_until(rows: list[list[str]], cells: list[tuple[int, int]], name: str,
                fixes: list[Correction], today: date | None) -> None:
    """Swap the fewest confusable characters in ``cells`` that make the field's checks pass."""
    def failing() -> bool:
        # The composite must pass too. Where the field's offset in it shifts the 7-3-1 weights
        # it is a second check; for a document number (offset 0) it adds nothing.
        result = mrz.parse(["".join(r) for r in rows], today=today)
        return any(e.field in (name, "composite") and e.code == "check_digit"
                   for e in result.errors)

    if not failing():
        return
    options = [(ln, col) for ln, col in cells if rows[ln][col] in SWAPS][:_MAX_SWAPS]
    for size in range(1, min(len(options), _MAX_CHANGED) + 1):
        winners = []
        for where in itertools.combinations(options, size):
            before = [rows[ln][col] for ln, col in where]
            for what in itertools.product(*(SWAPS[c] for c in before)):
                for (ln, col), ch in zip(where, what, strict=True):
                    rows[ln][col] = ch
                if not failing():
                    winners.append((where, what))
            for (ln, col), ch in zip(where, before, strict=True):
                rows[ln][col] = ch
        if len(winners) == 1:  # a unique smallest fix; a tie means we cannot tell
            for (ln, col), ch in zip(*winners[0], strict=True):
                fixes.append(Correction(ln, col, rows[ln][col], ch, "check_digit"))
                rows[ln][col] = ch
            return
        if winners:
            return


def read_mrz(image: NDArray[np.uint8], recognizer: Recognizer, *,
             today: date | None = None) -> OcrResult:
    """The whole path the CLI and the benchmark share: RGB or grey image -> checked MRZ."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    crop, corners = locate_mrz(gray)  # type: ignore[arg-type]  # cvtColor keeps uint8
    lines = 3 if crop.shape[1] / crop.shape[0] < 5.5 else 2
    binary = binarise(crop, lines, getattr(recognizer, "line_px", None))
    scored = getattr(recognizer, "read", None)
    rows = scored(binary) if scored else [(t, []) for t in recognizer(binary).splitlines()]
    read = fit_lines("\n".join(t for t, _ in rows))
    fixed, corrections = correct(read, today)
    return OcrResult(read, fixed, corrections, mrz.parse(fixed, today=today),
                     tuple((float(x), float(y)) for x, y in corners),
                     _uncertain(read, dict(rows), corrections))


UNCERTAIN_MARGIN = 0.08  # flags 59 % of misread name characters, 1.2 % of right ones
_UNCHECKED = {"name", "sex", "issuing_state", "nationality", "document_code"}


def _uncertain(lines: tuple[str, ...], margins: dict[str, list[float]],
               corrections: tuple[Correction, ...]) -> tuple[tuple[int, int], ...]:
    kind = mrz.detect_type(lines)
    if kind is None:
        return ()
    fixed = {(c.line, c.column) for c in corrections}
    unchecked = set(_UNCHECKED)
    if kind in (mrz.DocumentType.MRV_A, mrz.DocumentType.MRV_B):
        unchecked.add("optional_data")
    return tuple((ln, col) for ln, line in enumerate(lines)
                 for col, m in enumerate(margins.get(line, []))
                 if m < UNCERTAIN_MARGIN and (ln, col) not in fixed
                 and mrz.field_at(kind, ln, col) in unchecked)


def make_recognizer(engine: str = "auto") -> tuple[str, Recognizer]:
    """``ocrb`` (needs an OCR-B font), ``tesseract`` (needs the binary) or ``auto``: the
    template reader when the font is installed, since it measures better (see
    docs/benchmarks_documents.md), else Tesseract."""
    from bordermatch.documents.ocrb import OcrbRecognizer
    from bordermatch.documents.synth import ocr_b_font_path

    font = ocr_b_font_path()
    if engine == "ocrb" or (engine == "auto" and font is not None):
        if font is None:
            raise ModelNotFoundError("no OCR-B font found (Debian: apt-get install fonts-ocr-b)")
        return "ocrb", OcrbRecognizer(font)
    if engine in ("tesseract", "auto"):
        return "tesseract", tesseract_recognizer()
    raise DocumentError(f"unknown OCR engine {engine!r}: auto, ocrb or tesseract")
