"""The chip's LDS files as a reader delivers them (ICAO Doc 9303 Part 10): EF.COM, DG1, DG2.

Pure: bytes in, frozen dataclasses out. Every defect raises a named error: a malformed TLV
(:class:`~bordermatch.errors.TlvError`), a length that disagrees with the bytes
(:class:`~bordermatch.errors.TlvLengthError`), an unexpected tag
(:class:`~bordermatch.errors.UnknownTagError`) and an image shorter than declared or cut off
(:class:`~bordermatch.errors.LdsTruncatedError`). The ``build_*`` functions are the inverse,
used to write test chips.

DG2 holds the face either in an ISO/IEC 19794-5:2005 record (``FAC\\0``; fully decoded:
header, facial information, feature points, image information) or in an ISO/IEC 39794-5
encoding, of which only the image is extracted (the primitive whose bytes are a JPEG or
JPEG 2000 stream); its landmarks and quality blocks are not decoded.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from bordermatch.config import ImageLimits
from bordermatch.documents import mrz
from bordermatch.errors import (
    ImageDecodeError,
    ImageTooLargeError,
    LdsError,
    LdsTruncatedError,
    TlvError,
    TlvLengthError,
    UnknownTagError,
)

# Part 10, 4.6.1: the EF.COM tag list names data groups by their file tags.
DG_TAGS = {0x61: 1, 0x75: 2, 0x63: 3, 0x76: 4, 0x65: 5, 0x66: 6, 0x67: 7, 0x68: 8, 0x69: 9,
           0x6A: 10, 0x6B: 11, 0x6C: 12, 0x6D: 13, 0x6E: 14, 0x6F: 15, 0x70: 16}
JPEG_MAGIC = b"\xff\xd8"
JP2_MAGIC = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")  # JP2 box, raw codestream


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes
    constructed: bool

    def children(self) -> list[Tlv]:
        if not self.constructed:
            raise TlvError(f"tag {self.tag:X} is primitive; it has no inner TLVs")
        return parse_tlvs(self.value)

    def child(self, tag: int, context: str) -> Tlv:
        for c in self.children():
            if c.tag == tag:
                return c
        raise UnknownTagError(f"{context}: tag {tag:X} missing inside {self.tag:X}")


def read_tlv(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """One BER-TLV at ``offset`` (ISO/IEC 7816-4 tags, definite lengths); and the next offset."""
    end = len(data)
    if offset >= end:
        raise TlvError("no TLV: the data ended")
    first = data[offset]
    tag, pos = first, offset + 1
    if first & 0x1F == 0x1F:  # multi-byte tag: more bytes while bit 8 is set
        while True:
            if pos >= end:
                raise TlvError(f"tag starting {first:02X} cut off at byte {pos}")
            tag = (tag << 8) | data[pos]
            pos += 1
            if not data[pos - 1] & 0x80:
                break
            if pos - offset > 3:
                raise TlvError(f"tag starting {first:02X} longer than 3 bytes")
    if pos >= end:
        raise TlvError(f"tag {tag:X} has no length byte")
    length = data[pos]
    pos += 1
    if length == 0x80:
        raise TlvError(f"tag {tag:X}: indefinite length is not allowed in the LDS")
    if length > 0x80:
        n = length & 0x7F
        if n > 3 or pos + n > end:
            raise TlvLengthError(f"tag {tag:X}: length field of {n} bytes is malformed")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > end:
        raise TlvLengthError(f"tag {tag:X} declares {length} bytes, only {end - pos} remain")
    constructed = bool(first & 0x20)
    return Tlv(tag, bytes(data[pos:pos + length]), constructed), pos + length


def parse_tlvs(data: bytes) -> list[Tlv]:
    out, pos = [], 0
    while pos < len(data):
        if data[pos] in (0x00, 0xFF) and set(data[pos:]) <= {0x00, 0xFF}:
            break  # padding after the last object (ISO/IEC 7816-4, 5.2.2.1)
        tlv, pos = read_tlv(data, pos)
        out.append(tlv)
    return out


def read_file(data: bytes, tag: int, name: str) -> Tlv:
    """The one top-level TLV of an LDS file; its tag must be ``tag``; nothing may follow."""
    tlv, end = read_tlv(data)
    if tlv.tag != tag:
        raise UnknownTagError(f"{name}: file tag {tlv.tag:X}, expected {tag:X}")
    if any(data[end:]) and set(data[end:]) != {0xFF}:
        raise TlvLengthError(f"{name}: {len(data) - end} bytes follow the {tag:X} object")
    return tlv


def encode_tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        size = (n.bit_length() + 7) // 8
        length = bytes([0x80 | size]) + n.to_bytes(size, "big")
    return tag_bytes + length + value


# --- EF.COM -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EfCom:
    lds_version: str  # "0108" = LDS 1.8
    unicode_version: str
    data_groups: tuple[int, ...]


def parse_ef_com(data: bytes) -> EfCom:
    com = read_file(data, 0x60, "EF.COM")
    tags = com.child(0x5C, "EF.COM").value
    unknown = [t for t in tags if t not in DG_TAGS]
    if unknown:
        raise UnknownTagError(f"EF.COM lists unknown data group tags {bytes(unknown).hex()}")
    return EfCom(com.child(0x5F01, "EF.COM").value.decode("ascii", "replace"),
                 com.child(0x5F36, "EF.COM").value.decode("ascii", "replace"),
                 tuple(DG_TAGS[t] for t in tags))


def build_ef_com(data_groups: tuple[int, ...], lds_version: str = "0108") -> bytes:
    tag_of = {dg: tag for tag, dg in DG_TAGS.items()}
    body = (encode_tlv(0x5F01, lds_version.encode()) + encode_tlv(0x5F36, b"040000")
            + encode_tlv(0x5C, bytes(tag_of[d] for d in data_groups)))
    return encode_tlv(0x60, body)


# --- DG1: the MRZ ----------------------------------------------------------------------


def parse_dg1(data: bytes) -> tuple[str, ...]:
    """The MRZ lines DG1 holds (Part 10, 4.7.1): 90, 72 or 88 characters in one string."""
    text = read_file(data, 0x61, "DG1").child(0x5F1F, "DG1").value
    try:
        mrz_text = text.decode("ascii")
    except UnicodeDecodeError:
        raise TlvError("DG1: the MRZ data element is not ASCII") from None
    split = {90: 30, 72: 36, 88: 44}.get(len(mrz_text))
    if split is None:
        raise TlvLengthError(f"DG1: MRZ of {len(mrz_text)} characters; expected 90, 72 or 88")
    return tuple(mrz_text[i:i + split] for i in range(0, len(mrz_text), split))


def build_dg1(lines: tuple[str, ...]) -> bytes:
    return encode_tlv(0x61, encode_tlv(0x5F1F, "".join(lines).encode("ascii")))


# --- DG2: the face ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaceImage:
    format: str  # "19794-5" or "39794-5"
    image_format: str  # "jpeg" or "jpeg2000"
    width: int | None  # from the record's image information (19794-5 only)
    height: int | None
    gender: int | None  # 19794-5 codes: 0 unspecified, 1 male, 2 female, 0xFF unknown
    feature_points: int | None
    data: bytes


def parse_dg2(data: bytes) -> tuple[FaceImage, ...]:
    """Every face image in DG2 (Part 10, 4.7.2: 7F61 group of 7F60 templates)."""
    group = read_file(data, 0x75, "DG2").child(0x7F61, "DG2")
    children = group.children()
    count = children[0].value[0] if children and children[0].tag == 0x02 else None
    faces = []
    for bit in children:
        if bit.tag == 0x02:
            continue
        if bit.tag != 0x7F60:
            raise UnknownTagError(f"DG2: tag {bit.tag:X} where a 7F60 template belongs")
        header = bit.child(0xA1, "DG2 biometric header")
        header.children()  # validates the header's TLVs
        block = next((c for c in bit.children() if c.tag in (0x5F2E, 0x7F2E)), None)
        if block is None:
            raise UnknownTagError("DG2: no biometric data block (5F2E or 7F2E)")
        faces.extend(_parse_face_block(block.value))
    if count is not None and count != len(faces):
        raise TlvLengthError(f"DG2 declares {count} face(s) but holds {len(faces)}")
    if not faces:
        raise LdsError("DG2 holds no face image")
    return tuple(faces)


def _parse_face_block(block: bytes) -> list[FaceImage]:
    if block[:4] == b"FAC\x00":
        return _parse_19794_5(block)
    if block and block[0] & 0x20:  # a constructed BER object: the 39794-5 encoding
        return [_parse_39794_5(block)]
    raise UnknownTagError("DG2: biometric data block is neither 19794-5 (FAC) nor 39794-5")


def _parse_19794_5(block: bytes) -> list[FaceImage]:
    if len(block) < 14:
        raise TlvLengthError("19794-5: record shorter than its 14-byte header")
    record_len = int.from_bytes(block[8:12], "big")
    count = int.from_bytes(block[12:14], "big")
    if record_len != len(block):
        cls = LdsTruncatedError if record_len > len(block) else TlvLengthError
        raise cls(f"19794-5: record length {record_len}, block holds {len(block)} bytes")
    faces, pos = [], 14
    for i in range(count):
        # Facial information: 4-byte length then 16 bytes (points, gender, eyes, hair,
        # property mask, expression, pose angle and its uncertainty).
        if pos + 20 > len(block):
            raise LdsTruncatedError(f"19794-5: face {i + 1} cut off in its header")
        face_len = int.from_bytes(block[pos:pos + 4], "big")
        end = pos + face_len
        if face_len < 20 + 12 or end > len(block):
            raise LdsTruncatedError(f"19794-5: face {i + 1} declares {face_len} bytes")
        info = block[pos + 4:pos + 20]
        points = int.from_bytes(info[0:2], "big")
        img_pos = pos + 20 + 8 * points
        if img_pos + 12 > end:
            raise LdsTruncatedError(f"19794-5: face {i + 1} cut off in its feature points")
        _, data_type, width, height = struct.unpack(">BBHH", block[img_pos:img_pos + 6])
        if data_type not in (0, 1):
            raise UnknownTagError(f"19794-5: image data type {data_type} (0 JPEG, 1 JPEG 2000)")
        faces.append(FaceImage("19794-5", "jpeg" if data_type == 0 else "jpeg2000", width,
                               height, info[2], points, bytes(block[img_pos + 12:end])))
        pos = end
    return faces


def _parse_39794_5(block: bytes) -> FaceImage:
    def walk(items: list[Tlv]) -> bytes | None:
        for t in items:
            if t.constructed:
                found = walk(t.children())
                if found is not None:
                    return found
            elif t.value.startswith(JPEG_MAGIC) or t.value.startswith(JP2_MAGIC):
                return t.value
        return None

    image = walk(parse_tlvs(block))
    if image is None:
        raise LdsError("39794-5: no JPEG or JPEG 2000 image found in the encoding")
    kind = "jpeg" if image.startswith(JPEG_MAGIC) else "jpeg2000"
    return FaceImage("39794-5", kind, None, None, None, None, image)


def build_dg2(image: bytes, width: int, height: int, image_format: str = "jpeg") -> bytes:
    """DG2 with one face in a 19794-5 record (frontal, no feature points)."""
    data_type = {"jpeg": 0, "jpeg2000": 1}[image_format]
    info = struct.pack(">HBBB3sH3s3s", 0, 0, 0, 0, b"\x00\x00\x00", 0, b"\x00" * 3, b"\x00" * 3)
    image_info = struct.pack(">BBHHBBHH", 1, data_type, width, height, 1, 2, 0, 0)
    face = info + image_info + image
    face = (len(face) + 4).to_bytes(4, "big") + face
    record = b"FAC\x00010\x00" + (14 + len(face)).to_bytes(4, "big") + b"\x00\x01" + face
    header = encode_tlv(0xA1, encode_tlv(0x80, b"\x01\x01") + encode_tlv(0x81, b"\x02")
                        + encode_tlv(0x87, b"\x01\x01") + encode_tlv(0x88, b"\x00\x08"))
    bit = encode_tlv(0x7F60, header + encode_tlv(0x5F2E, record))
    return encode_tlv(0x75, encode_tlv(0x7F61, encode_tlv(0x02, b"\x01") + bit))


def decode_face(face: FaceImage) -> NDArray[np.uint8]:
    """The face as RGB pixels (Pillow: libjpeg, OpenJPEG); a cut-off stream is named so."""
    from PIL import Image

    magic_ok = (face.data.startswith(JPEG_MAGIC) if face.image_format == "jpeg"
                else face.data.startswith(JP2_MAGIC))
    if not magic_ok:
        raise ImageDecodeError(f"DG2: the image is not the {face.image_format} its header says")
    try:
        with Image.open(io.BytesIO(face.data)) as img:
            # A chip photo is a few hundred pixels a side; refuse a decompression bomb from
            # the header, before decoding.
            if img.width * img.height > ImageLimits().max_image_pixels:
                raise ImageTooLargeError(f"DG2: {img.width}x{img.height} image refused")
            img.load()
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as exc:
        if "truncated" in str(exc) or "broken data stream" in str(exc) or not face.data.rstrip(
                b"\x00").endswith((b"\xff\xd9",)):
            raise LdsTruncatedError(f"DG2: {face.image_format} image cut off ({exc})") from None
        raise ImageDecodeError(f"DG2: {face.image_format} image does not decode ({exc})") from None


def dg1_mrz(data: bytes, today: date | None = None) -> mrz.MrzResult:
    """DG1's MRZ, parsed and checked like a printed one."""
    return mrz.parse(parse_dg1(data), today=today)
