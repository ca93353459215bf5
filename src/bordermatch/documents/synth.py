"""Synthetic travel documents for tests and benchmarks: random MRZs and rendered data pages.

Pages are drawn with the OCR-B typeface (Debian's ``fonts-ocr-b``, the face Doc 9303 Part 3
prescribes for the MRZ) and then degraded the way a booth camera degrades them: rotation,
perspective, blur, sensor noise and a specular glare spot. Nothing here reads files except the
font, whose path the caller passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from bordermatch.documents.mrz import DocumentType, compose

OCR_B_PATHS = (Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf"),
               Path("/usr/share/fonts/truetype/ocr-b/OCRB.ttf"))

_SURNAMES = ("ERIKSSON", "MUSTERMANN", "DUPONT", "OKONKWO", "NAKAMURA", "GARCIA<LOPEZ", "SMITH",
             "O<BRIEN", "KOWALSKI", "NGUYEN", "ABDULLAH", "VAN<DER<BERG", "ROSSI", "IVANOVA")
_GIVEN = ("ANNA", "MARIA", "JOHN", "ERIKA", "LUC", "CHIDI", "YUKI", "JOSE", "MARY", "PIOTR",
          "MINH", "FATIMA", "JAN", "GIULIA", "OLGA", "PETER")
_CODES = ("UTO", "D", "FRA", "NGA", "JPN", "ESP", "GBR", "IRL", "POL", "VNM", "ARE", "NLD", "ITA",
          "XXA", "GBN", "CAN")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Physical size of each layout (mm): TD3 is the passport page, TD1 the card, TD2 in between.
PAGE_MM = {DocumentType.TD3: (125, 88), DocumentType.TD2: (105, 74), DocumentType.TD1: (85.6, 54)}


def ocr_b_font_path() -> Path | None:
    return next((p for p in OCR_B_PATHS if p.is_file()), None)


def random_mrz(rng: np.random.Generator, kind: DocumentType, today: date) -> tuple[str, ...]:
    """A valid MRZ with random fields, drawn so that confusable characters appear often."""
    def pick(seq):
        return seq[int(rng.integers(len(seq)))]

    number = "".join(pick(_ALNUM) for _ in range(9))
    birth = today - timedelta(days=int(rng.integers(365 * 18, 365 * 90)))
    expiry = today + timedelta(days=int(rng.integers(-365 * 2, 365 * 10)))
    given = " ".join(pick(_GIVEN) for _ in range(int(rng.integers(1, 3))))
    code = {DocumentType.TD3: "P", DocumentType.TD2: "I", DocumentType.TD1: "ID"}[kind]
    optional = "".join(pick(_ALNUM) for _ in range(int(rng.integers(0, 8))))
    return compose(kind, document_code=code, issuing_state=pick(_CODES),
                   surname=pick(_SURNAMES).replace("<", " "), given_names=given,
                   document_number=number, nationality=pick(_CODES), birth_date=birth,
                   sex=pick("MFX"), expiry_date=expiry, optional_data=optional)


@dataclass(frozen=True, slots=True)
class Degradation:
    rotation_deg: float = 0.0
    perspective: float = 0.0  # corner displacement as a fraction of the page size
    blur_sigma: float = 0.0
    noise_sigma: float = 0.0
    glare: float = 0.0  # peak added brightness of the glare spot (0-255)
    jpeg_quality: int = 0  # 0: no JPEG round trip

    @staticmethod
    def random(rng: np.random.Generator, severity: float = 1.0) -> Degradation:
        s = severity
        return Degradation(rotation_deg=float(rng.uniform(-4, 4) * s),
                           perspective=float(rng.uniform(0, 0.04) * s),
                           blur_sigma=float(rng.uniform(0, 1.6) * s),
                           noise_sigma=float(rng.uniform(0, 14) * s),
                           glare=float(rng.uniform(0, 150) * s) if rng.random() < 0.6 else 0.0,
                           jpeg_quality=int(rng.integers(55, 95)))


def render_page(lines: tuple[str, ...], font_path: Path, *, px_per_mm: float = 8.0,
                degradation: Degradation | None = None,
                rng: np.random.Generator | None = None) -> NDArray[np.uint8]:
    """An RGB photo of a data page whose MRZ is ``lines``, on a darker desk, degraded."""
    rng = rng or np.random.default_rng(0)
    kind = {3: DocumentType.TD1, 36: DocumentType.TD2, 44: DocumentType.TD3}[
        3 if len(lines) == 3 else len(lines[0])]
    w_mm, h_mm = PAGE_MM[kind]
    w, h = int(w_mm * px_per_mm), int(h_mm * px_per_mm)
    page = _background(w, h, rng)
    draw = ImageDraw.Draw(page)
    # Part 3, 4.3: OCR-B size 1 at 10 characters per inch, the MRZ's left edge 5-6 mm in.
    pitch_mm = 2.54 if kind is not DocumentType.TD1 else 2.4
    font = ImageFont.truetype(str(font_path), int(px_per_mm * pitch_mm * 1.62))
    viz = ImageFont.truetype(str(font_path), int(px_per_mm * 2.6))
    photo = [int(w * 0.05), int(h * 0.18), int(w * 0.3), int(h * 0.64)]
    draw.rectangle(photo, fill=(170, 165, 160))
    draw.text((int(w * 0.05), int(h * 0.05)), "UTOPIA  PASSPORT / PASSEPORT", font=viz,
              fill=(40, 40, 90))
    name = lines[-1] if kind is DocumentType.TD1 else lines[0][5:]
    for i, text in enumerate((name.split("<<")[0], "NATIONALITY UTOPIAN", "12 AUG/AOUT 74")):
        draw.text((int(w * 0.35), int(h * (0.2 + 0.1 * i))), text.replace("<", " "), font=viz,
                  fill=(30, 30, 30))
    line_h = px_per_mm * (5.2 if len(lines) == 2 else 4.6)
    top = h - px_per_mm * 3.5 - line_h * len(lines)
    for i, line in enumerate(lines):
        x = px_per_mm * 5.5
        for ch in line:  # one character per fixed pitch, as an MRZ printer places them
            draw.text((x, top + i * line_h), ch, font=font, fill=(12, 12, 12))
            x += px_per_mm * pitch_mm
    return degrade(np.asarray(page), degradation or Degradation(), rng)


def _background(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 6.28)
    guilloche = 10 * np.sin(xx / 23.0 + 4 * np.sin(yy / 41.0 + phase))
    base = np.stack([238 + guilloche, 232 + guilloche * 0.6, 220 + guilloche * 0.3], axis=-1)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def degrade(page: NDArray[np.uint8], d: Degradation, rng: np.random.Generator) -> NDArray[np.uint8]:
    h, w = page.shape[:2]
    margin = int(0.12 * max(w, h))
    canvas_w, canvas_h = w + 2 * margin, h + 2 * margin
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    jitter = rng.uniform(-1, 1, size=(4, 2)) * d.perspective * np.array([w, h], dtype=np.float32)
    centre = np.array([canvas_w / 2, canvas_h / 2], dtype=np.float32)
    theta = np.deg2rad(d.rotation_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]],
                   dtype=np.float32)
    dst = ((src - np.array([w / 2, h / 2], dtype=np.float32) + jitter) @ rot.T
           + centre).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    desk = (70 + 20 * rng.random(3)).astype(np.uint8).tolist()
    out = cv2.warpPerspective(page, matrix, (canvas_w, canvas_h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=desk)
    img = out.astype(np.float32)
    if d.glare > 0:
        cy, cx = rng.uniform(0.3, 0.8) * canvas_h, rng.uniform(0.2, 0.8) * canvas_w
        yy, xx = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
        r = 0.18 * canvas_w
        img += d.glare * np.exp(-(((xx - cx) / r) ** 2 + ((yy - cy) / (0.6 * r)) ** 2))[..., None]
    if d.blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), d.blur_sigma)  # type: ignore[assignment]  # stays float32
    if d.noise_sigma > 0:
        # img.shape is Any to the stubs, so they pick rng.normal's scalar overload.
        img += rng.normal(0, d.noise_sigma, img.shape).astype(np.float32)  # type: ignore[attr-defined]
    out = np.clip(img, 0, 255).astype(np.uint8)
    if d.jpeg_quality:
        _, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, d.jpeg_quality])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)  # type: ignore[assignment]  # own JPEG: never None
    return out  # type: ignore[return-value]  # cv2 stubs drop the dtype (uint8 here)
