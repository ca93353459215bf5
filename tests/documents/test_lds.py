"""LDS files: EF.COM, DG1, DG2 (19794-5 and 39794-5), and a named error for every defect."""

from __future__ import annotations

import pytest
from tests.documents.pki import face_image
from tests.documents.specimens import SPECIMENS, TODAY

from bordermatch.documents import lds
from bordermatch.errors import (
    ImageDecodeError,
    LdsTruncatedError,
    TlvError,
    TlvLengthError,
    UnknownTagError,
)


def test_ef_com_round_trip() -> None:
    com = lds.parse_ef_com(lds.build_ef_com((1, 2, 14)))
    assert com.data_groups == (1, 2, 14) and com.lds_version == "0108"


@pytest.mark.parametrize("name", ["td3", "td1", "td2"])
def test_dg1_holds_the_mrz(name: str) -> None:
    lines = SPECIMENS[name][1]
    assert lds.parse_dg1(lds.build_dg1(lines)) == lines
    assert lds.dg1_mrz(lds.build_dg1(lines), today=TODAY).valid


@pytest.mark.parametrize("image_format", ["jpeg", "jpeg2000"])
def test_dg2_19794_5_face_decodes(image_format: str) -> None:
    dg2 = lds.build_dg2(face_image(image_format), 96, 120, image_format)
    (face,) = lds.parse_dg2(dg2)
    assert (face.format, face.image_format, face.width, face.height) == (
        "19794-5", image_format, 96, 120)
    assert lds.decode_face(face).shape == (120, 96, 3)


def test_dg2_39794_5_image_is_found() -> None:
    jpeg = face_image("jpeg")
    # A 39794-5 encoding: nested context-specific constructed objects around the image.
    block = lds.encode_tlv(0xA1, lds.encode_tlv(0xA0, lds.encode_tlv(0x80, b"\x01"))
                           + lds.encode_tlv(0xA2, lds.encode_tlv(0x80, jpeg)))
    bit = lds.encode_tlv(0x7F60, lds.encode_tlv(0xA1, lds.encode_tlv(0x80, b"\x01\x01"))
                         + lds.encode_tlv(0x7F2E, block))
    dg2 = lds.encode_tlv(0x75, lds.encode_tlv(0x7F61, lds.encode_tlv(0x02, b"\x01") + bit))
    (face,) = lds.parse_dg2(dg2)
    assert face.format == "39794-5" and face.data == jpeg
    assert lds.decode_face(face).shape == (120, 96, 3)


def test_malformed_tlv() -> None:
    with pytest.raises(TlvError):
        lds.read_tlv(b"\x61\x80\x00\x00")  # indefinite length
    with pytest.raises(TlvError):
        lds.read_tlv(b"\x5f")  # tag cut off
    with pytest.raises(TlvError):
        lds.parse_dg1(b"")


def test_wrong_length() -> None:
    good = lds.build_dg1(SPECIMENS["td3"][1])
    with pytest.raises(TlvLengthError):
        lds.parse_dg1(good[:-5])  # declares more bytes than it has
    with pytest.raises(TlvLengthError):
        lds.parse_dg1(good + b"\x01\x02")  # trailing data after the object
    with pytest.raises(TlvLengthError):
        lds.parse_dg1(lds.build_dg1(("P<UTO", "L898")))  # an MRZ of 10 characters
    with pytest.raises(TlvLengthError):
        lds.read_tlv(b"\x61\x85\x00\x00\x00\x00\x01")  # a 5-byte length field


def test_unknown_tag() -> None:
    dg1 = lds.build_dg1(SPECIMENS["td3"][1])
    with pytest.raises(UnknownTagError):
        lds.parse_dg2(dg1)  # DG1 handed over as DG2
    with pytest.raises(UnknownTagError):
        lds.parse_dg1(lds.encode_tlv(0x61, lds.encode_tlv(0x5F20, b"x")))  # no 5F1F inside
    with pytest.raises(UnknownTagError):
        lds.parse_ef_com(lds.encode_tlv(0x60, lds.encode_tlv(0x5F01, b"0108")
                                        + lds.encode_tlv(0x5F36, b"040000")
                                        + lds.encode_tlv(0x5C, b"\x61\x99")))


def _dg2_with_image(image: bytes) -> bytes:
    return lds.build_dg2(image, 96, 120, "jpeg")


def test_truncated_image() -> None:
    jpeg = face_image("jpeg")
    # Consistent TLV and record lengths around a JPEG stream that stops half way.
    (face,) = lds.parse_dg2(_dg2_with_image(jpeg[: len(jpeg) // 2]))
    with pytest.raises(LdsTruncatedError):
        lds.decode_face(face)
    # A record that declares more bytes than the data block holds.
    dg2 = bytearray(_dg2_with_image(jpeg))
    at = dg2.index(b"FAC\x00") + 8
    dg2[at:at + 4] = (int.from_bytes(dg2[at:at + 4], "big") + 100).to_bytes(4, "big")
    with pytest.raises(LdsTruncatedError):
        lds.parse_dg2(bytes(dg2))


def test_image_that_is_not_what_the_header_says() -> None:
    (face,) = lds.parse_dg2(lds.build_dg2(b"GIF89a" + bytes(100), 96, 120, "jpeg"))
    with pytest.raises(ImageDecodeError):
        lds.decode_face(face)
