from __future__ import annotations

import struct

import numpy as np
import pytest
from tests.fingerprint.fp_helpers import make_template

from bordermatch.errors import InputError, TemplateError
from bordermatch.fingerprint.capture import load_fingerprint
from bordermatch.fingerprint.minutiae import (
    FingerTemplate,
    decode_iso,
    encode_iso,
    extract_template,
    finger_position,
)


def _same(a: FingerTemplate, b: FingerTemplate) -> bool:
    ka = sorted(zip(a.x, a.y, a.angle, a.kind, a.quality, strict=True))
    kb = sorted(zip(b.x, b.y, b.angle, b.kind, b.quality, strict=True))
    return ka == kb


def test_iso_round_trip_and_header():
    t = make_template(40, position=7)
    data = encode_iso(t)
    magic, length, _, w, h, xres, yres, views, _ = struct.unpack_from(">8sIHHHHHBB", data)
    assert magic == b"FMR\x00 20\x00" and length == len(data) == 24 + 4 + 6 * 40 + 2
    assert (w, h, xres, yres, views) == (300, 400, 197, 197, 1)
    assert data[24] == 7 and data[27] == 40  # finger position, minutiae count
    back = decode_iso(data)
    assert _same(t, back) and back.position == 7 and (back.width, back.height) == (300, 400)


def test_empty_template_round_trips():
    t = make_template(0)
    assert len(decode_iso(encode_iso(t))) == 0


@pytest.mark.parametrize("mutate", [
    lambda d: d[:20],  # truncated header
    lambda d: b"XMR\x00" + d[4:],  # wrong format identifier
    lambda d: d[:-7] + d[-2:],  # a minutia cut out: length field disagrees
    lambda d: d[:22] + b"\x02" + d[23:],  # two finger views
    lambda d: d[:24] + b"\x0b" + d[25:],  # finger position 11
    lambda d: d[:-2] + b"\x00\x05",  # extended data that is not there
])
def test_malformed_records_raise_template_error(mutate):
    data = encode_iso(make_template(10))
    with pytest.raises(TemplateError) as err:
        decode_iso(mutate(data))
    assert err.value.code == "bad_template" and isinstance(err.value, InputError)


def test_template_validation():
    t = make_template(5)
    with pytest.raises(TemplateError):
        FingerTemplate(t.x + 1000, t.y, t.angle, t.kind, t.quality, t.width, t.height)
    with pytest.raises(TemplateError):
        FingerTemplate(t.x, t.y[:3], t.angle, t.kind, t.quality, t.width, t.height)


def test_finger_positions():
    assert finger_position("right thumb") == 1 and finger_position("left_index") == 7
    assert finger_position("10") == 10 and finger_position(0) == 0
    for bad in (11, -1, "nose", True):
        with pytest.raises(InputError):
            finger_position(bad)


def test_rows_are_most_reliable_first_and_angles_quantised():
    t = make_template(20)
    rows = t.rows()
    assert [r[4] for r in rows] == sorted(t.quality.tolist(), reverse=True)
    assert all(0 <= r[3] < 256 for r in rows)


def test_extract_from_real_image(fp_data, nbis_backend):
    t = extract_template(load_fingerprint(fp_data / "upek" / "1_1.png"), position=2)
    assert 20 <= len(t) <= 255 and t.position == 2
    assert (t.width, t.height) == (248, 338)
    assert set(np.unique(t.kind).tolist()) <= {1, 2}
    assert _same(t, decode_iso(encode_iso(t)))
