from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tests.fingerprint.fp_helpers import encode, ridges

from bordermatch.errors import (
    EmptyImageError,
    ImageDecodeError,
    ImageNotFoundError,
    ImageTooLargeError,
    InputError,
    UnsupportedImageError,
    WrongResolutionError,
)
from bordermatch.fingerprint.capture import decode_fingerprint, load_fingerprint


def test_png_without_resolution_uses_declared_setting():
    fp = decode_fingerprint(encode(ridges()))
    assert (fp.ppi, fp.ppi_source, fp.format) == (500.0, "declared", "PNG")
    assert fp.pixels.dtype == np.uint8 and fp.pixels.shape == (300, 300)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "JPEG"])
def test_stated_500_ppi_is_taken_from_the_file(fmt):
    fp = decode_fingerprint(encode(ridges(), fmt, dpi=(500, 500)), declared_ppi=333)
    assert (fp.ppi, fp.ppi_source, fp.format) == (500.0, "file", fmt)


@pytest.mark.parametrize("dpi", [(1000, 1000), (300, 300)])
def test_stated_wrong_resolution_is_refused(dpi):
    with pytest.raises(WrongResolutionError) as err:
        decode_fingerprint(encode(ridges(), "PNG", dpi=dpi))
    assert err.value.code == "wrong_resolution" and isinstance(err.value, InputError)


@pytest.mark.parametrize("dpi", [(72, 72), (96, 96), (1, 1)])
def test_editor_default_resolutions_count_as_not_stated(dpi):
    assert decode_fingerprint(encode(ridges(), "TIFF", dpi=dpi)).ppi_source == "declared"


def test_declared_wrong_resolution_is_refused():
    with pytest.raises(WrongResolutionError):
        decode_fingerprint(encode(ridges()), declared_ppi=1000)


def test_named_errors():
    with pytest.raises(EmptyImageError) as e:
        decode_fingerprint(b"")
    assert e.value.code == "empty_image"
    with pytest.raises(ImageDecodeError):
        decode_fingerprint(b"definitely not an image")
    with pytest.raises(ImageDecodeError):
        decode_fingerprint(encode(ridges())[:200])  # truncated
    with pytest.raises(ImageDecodeError):
        decode_fingerprint(encode(ridges(50)))  # too small to hold a finger
    with pytest.raises(UnsupportedImageError):
        decode_fingerprint(encode(ridges(), "BMP"))
    with pytest.raises(ImageNotFoundError):
        load_fingerprint("/nonexistent/finger.png")


def test_corrupt_wsq_is_a_decode_error():
    pytest.importorskip("_wsq")
    with pytest.raises(ImageDecodeError):
        decode_fingerprint(b"\xff\xa0" + b"\x00" * 300)


def test_pixel_limit(monkeypatch):
    from bordermatch.config import ImageLimits

    with pytest.raises(ImageTooLargeError):
        decode_fingerprint(encode(ridges()), limits=ImageLimits(max_image_pixels=10_000))


def test_rgba_is_composited_on_white():
    rgba = np.zeros((200, 200, 4), np.uint8)  # fully transparent black
    fp = decode_fingerprint(encode(rgba))
    assert int(fp.pixels.min()) == 255


def test_png_bytes_round_trip():
    fp = decode_fingerprint(encode(ridges()))
    back = np.asarray(Image.open(__import__("io").BytesIO(fp.png_bytes())))
    assert np.array_equal(back, fp.pixels)


def test_wsq_decode_matches_the_reference_decode(fp_data):
    pytest.importorskip("_wsq")
    folder = fp_data / "sourceafis_testdata"
    fp = load_fingerprint(folder / "wsq-original.wsq", declared_ppi=1000)
    ref = np.asarray(Image.open(folder / "wsq-converted.png").convert("L"))
    # The NISTCOM comment says PPI 500, so the (wrong) declared setting is not used.
    assert (fp.format, fp.ppi, fp.ppi_source) == ("WSQ", 500.0, "file")
    assert np.array_equal(fp.pixels, ref)


@pytest.mark.parametrize("name", ["upek/1_1.png", "fvc2002_db1_samples/101_2.tif",
                                  "nbis_rs_testdata/p1_1.png", "sourceafis_testdata/probe.png"])
def test_shared_images_decode_at_500_ppi(fp_data, name):
    fp = load_fingerprint(fp_data / name)
    assert fp.ppi == 500.0 and fp.pixels.ndim == 2
