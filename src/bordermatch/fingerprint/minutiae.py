"""Minutiae and ISO/IEC 19794-2:2005 finger minutiae records.

Coordinates are pixels from the top-left corner (x right, y down), as in ISO/IEC 19794-2.
Angles are degrees counter-clockwise from +x, in [0, 360); the record stores them in units
of 360/256 degrees. Minutia quality is 0-100 (MINDTCT's reliability x 100). Kinds follow
the standard's two type bits: 1 ridge ending, 2 bifurcation, 0 other.

A record holds exactly one finger view, with its ISO/IEC 19794-2 finger position code
(:data:`FINGER_POSITIONS`), the image size and resolution (pixels per centimetre, 197 for
500 ppi), the view's NFIQ 2 score as finger quality (0 when unknown), and no extended data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import InputError, TemplateError
from bordermatch.fingerprint import _nbis
from bordermatch.fingerprint.capture import FingerprintImage

__all__ = [
    "FINGER_POSITIONS",
    "FingerTemplate",
    "decode_iso",
    "encode_iso",
    "extract_template",
    "finger_position",
]

FINGER_POSITIONS = {
    0: "unknown", 1: "right thumb", 2: "right index", 3: "right middle", 4: "right ring",
    5: "right little", 6: "left thumb", 7: "left index", 8: "left middle", 9: "left ring",
    10: "left little",
}
_MAGIC = b"FMR\x00 20\x00"
_HEADER = struct.Struct(">8sIHHHHHBB")  # 24 bytes
_VIEW = struct.Struct(">BBBB")  # position, view/impression, quality, count
_MINUTIA = struct.Struct(">HHBB")
_ANGLE_UNIT = 360.0 / 256.0
PPCM_500PPI = 197  # 500 / 2.54, rounded as the standard asks


def finger_position(value: int | str) -> int:
    """An ISO/IEC 19794-2 finger position code from a code (0-10) or a name."""
    if isinstance(value, str):
        key = value.strip().lower().replace("_", " ")
        if key.isdigit():
            value = int(key)
        else:
            for code, name in FINGER_POSITIONS.items():
                if name == key:
                    return code
            raise InputError(f"unknown finger position {value!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value not in FINGER_POSITIONS:
        raise InputError(f"finger position must be 0-10, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, eq=False)
class FingerTemplate:
    """One finger's minutiae (parallel arrays) and the view's metadata."""

    x: NDArray[np.int32]
    y: NDArray[np.int32]
    angle: NDArray[np.float32]  # degrees, [0, 360)
    kind: NDArray[np.uint8]  # 1 ending, 2 bifurcation, 0 other
    quality: NDArray[np.uint8]  # 0-100
    width: int
    height: int
    position: int = 0
    finger_quality: int = 0  # NFIQ 2 of the capture, 0 when not measured
    ppcm: int = PPCM_500PPI

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        if any(a.shape != (n,) for a in (self.y, self.angle, self.kind, self.quality)):
            raise TemplateError("minutiae arrays must be 1-D and of equal length")
        if n > 255:
            raise TemplateError(f"{n} minutiae: an ISO/IEC 19794-2 view holds at most 255")
        if not (0 < self.width < 1 << 14 and 0 < self.height < 1 << 14):
            raise TemplateError(f"image size {self.width}x{self.height} out of range")
        if n and (self.x.min() < 0 or self.y.min() < 0 or self.x.max() >= self.width
                  or self.y.max() >= self.height):
            raise TemplateError("a minutia lies outside the image")
        finger_position(self.position)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def with_position(self, position: int) -> FingerTemplate:
        return FingerTemplate(self.x, self.y, self.angle, self.kind, self.quality,
                              self.width, self.height, finger_position(position),
                              self.finger_quality, self.ppcm)

    def rows(self) -> list[tuple[int, int, int, int, int]]:
        """(kind, x, y, iso_angle, quality) per minutia, most reliable first."""
        order = np.argsort(-self.quality.astype(np.int32), kind="stable")
        codes = np.round(self.angle / _ANGLE_UNIT).astype(np.int64) % 256
        return [(int(self.kind[i]), int(self.x[i]), int(self.y[i]), int(codes[i]),
                 int(self.quality[i])) for i in order]


def encode_iso(t: FingerTemplate) -> bytes:
    """The ISO/IEC 19794-2:2005 record of ``t`` (one view, no extended data)."""
    rows = t.rows()
    length = _HEADER.size + _VIEW.size + _MINUTIA.size * len(rows) + 2
    out = bytearray(_HEADER.pack(_MAGIC, length, 0, t.width, t.height, t.ppcm, t.ppcm, 1, 0))
    # View 0, impression type 0 (live-scan plain): what a handheld reader takes.
    out += _VIEW.pack(t.position, 0, t.finger_quality, len(rows))
    for kind, x, y, angle, quality in rows:
        out += _MINUTIA.pack((kind << 14) | x, y, angle, quality)
    out += b"\x00\x00"  # extended data block length: none
    return bytes(out)


def decode_iso(data: bytes) -> FingerTemplate:
    """Parse an ISO/IEC 19794-2:2005 record with one finger view; TemplateError otherwise."""
    if len(data) < _HEADER.size + _VIEW.size + 2:
        raise TemplateError(f"ISO/IEC 19794-2 record too short ({len(data)} bytes)")
    magic, length, _equip, width, height, xres, _yres, views, _ = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise TemplateError("not an ISO/IEC 19794-2:2005 record (bad format identifier)")
    if length != len(data):
        raise TemplateError(f"record length field {length} != {len(data)} bytes")
    if views != 1:
        raise TemplateError(f"{views} finger views; bordermatch stores one per record")
    position, _vi, fquality, count = _VIEW.unpack_from(data, _HEADER.size)
    start = _HEADER.size + _VIEW.size
    end = start + count * _MINUTIA.size
    if end + 2 > len(data):
        raise TemplateError(f"record declares {count} minutiae but is truncated")
    ext = struct.unpack_from(">H", data, end)[0]
    if end + 2 + ext != len(data):
        raise TemplateError("extended data length does not match the record length")
    if position not in FINGER_POSITIONS or fquality > 100:
        raise TemplateError(f"finger position {position} or quality {fquality} out of range")
    raw = np.frombuffer(data, dtype=">u2", count=count * 3, offset=start).reshape(count, 3)
    tail = np.frombuffer(data, dtype=np.uint8, count=count * 6, offset=start).reshape(count, 6)
    if count and tail[:, 5].max() > 100:
        raise TemplateError("minutia quality above 100")
    try:
        return FingerTemplate(
            x=(raw[:, 0] & 0x3FFF).astype(np.int32), y=(raw[:, 1] & 0x3FFF).astype(np.int32),
            angle=(tail[:, 4].astype(np.float32) * np.float32(_ANGLE_UNIT)),
            kind=(raw[:, 0] >> 14).astype(np.uint8), quality=tail[:, 5].copy(),
            width=width, height=height, position=position, finger_quality=fquality,
            ppcm=xres)
    except InputError as exc:
        raise TemplateError(str(exc)) from None


def extract_template(image: FingerprintImage, position: int = 0,
                     finger_quality: int = 0) -> FingerTemplate:
    """MINDTCT minutiae of ``image`` (500 ppi, see capture) as a :class:`FingerTemplate`."""
    try:
        found = _nbis.extractor(False).extract_minutiae(image.png_bytes()).get()
    except _nbis.nbis_errors() as exc:
        raise TemplateError(f"minutiae extraction failed ({exc!r})") from None
    rows = sorted(((m.reliability(), m) for m in found), key=lambda r: -r[0])[:255]
    n = len(rows)
    kinds = {"RIDGE_ENDING": 1, "BIFURCATION": 2}
    return FingerTemplate(
        x=np.array([m.x() for _, m in rows], dtype=np.int32).reshape(n),
        y=np.array([m.y() for _, m in rows], dtype=np.int32).reshape(n),
        angle=np.array([m.angle() % 360.0 for _, m in rows], dtype=np.float32).reshape(n),
        kind=np.array([kinds.get(m.kind().name, 0) for _, m in rows], dtype=np.uint8).reshape(n),
        quality=np.array([min(100, round(r * 100)) for r, _ in rows], dtype=np.uint8).reshape(n),
        width=image.width, height=image.height, position=finger_position(position),
        finger_quality=finger_quality)
