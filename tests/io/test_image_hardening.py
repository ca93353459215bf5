"""Lying headers are refused before decoding, metadata is stripped, decodes are bounded."""

from __future__ import annotations

import io
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from bordermatch.config import ImageLimits
from bordermatch.errors import DecodeBusyError, TruncatedImageError
from bordermatch.io.images import DecodeSlots, decode_image, inspect_image, strip_metadata

BIG = 50_000_000


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _noise(w=64, h=48) -> Image.Image:
    return Image.fromarray(np.random.default_rng(1).integers(0, 255, (h, w, 3), np.uint8))


def _claim(jpeg: bytes, w: int, h: int) -> bytes:
    """The same JPEG with a start-of-frame that claims w x h."""
    b = bytearray(jpeg)
    i = b.find(b"\xff\xc0")
    b[i + 5:i + 9] = h.to_bytes(2, "big") + w.to_bytes(2, "big")
    return bytes(b)


def _png_claim(png: bytes, w: int, h: int) -> bytes:
    b = bytearray(png)
    b[16:24] = w.to_bytes(4, "big") + h.to_bytes(4, "big")
    b[29:33] = zlib.crc32(bytes(b[12:29])).to_bytes(4, "big")
    return bytes(b)


def test_a_jpeg_claiming_more_pixels_than_its_data_is_refused_before_decoding():
    lying = _claim(_encode(_noise(), "JPEG"), 4000, 4000)
    t = time.perf_counter()
    with pytest.raises(TruncatedImageError):
        decode_image(lying)
    assert time.perf_counter() - t < 0.2  # the header alone decided it
    with pytest.raises(TruncatedImageError):
        inspect_image(lying, BIG, 10**9)


def test_a_jpeg_cut_short_in_its_scan_is_truncated():
    data = _encode(_noise(640, 480), "JPEG", quality=90)
    assert len(data) > 20_000
    with pytest.raises(TruncatedImageError):
        decode_image(data[: len(data) // 2])


def test_png_lying_or_cut_short_is_truncated():
    png = _encode(_noise(), "PNG")
    with pytest.raises(TruncatedImageError):
        decode_image(_png_claim(png, 5000, 5000))
    with pytest.raises(TruncatedImageError):
        decode_image(png[:-12])  # no IEND


@pytest.mark.parametrize(("mode", "fmt", "kw"), [
    ("L", "PNG", {"optimize": True}), ("RGB", "PNG", {"compress_level": 9}), ("1", "PNG", {}),
    ("RGB", "JPEG", {"quality": 1, "optimize": True}),
    ("L", "JPEG", {"quality": 1, "progressive": True, "optimize": True}),
])
def test_maximally_compressible_real_images_are_not_called_truncated(mode, fmt, kw):
    # A blank 4000x4000 frame is as small as a real encoder can make it: the floor must hold.
    data = _encode(Image.new(mode, (4000, 4000), 0), fmt, **kw)
    assert inspect_image(data, BIG, 10**9)[1:] == (4000, 4000)


def test_route_budget_is_checked_from_the_header():
    from bordermatch.errors import ImageTooLargeError

    data = _encode(Image.new("L", (5000, 4000), 0), "PNG")
    with pytest.raises(ImageTooLargeError):
        inspect_image(data, 16_000_000, 10**9)
    assert inspect_image(data, 24_000_000, 10**9) == ("PNG", 5000, 4000)


def _exif(orientation: int) -> bytes:
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = "SecretCam"  # Make
    ex[0x0131] = "owner-laptop"  # Software
    return ex.tobytes()


def test_strip_jpeg_metadata_keeps_pixels_and_orientation():
    xmp = b"<x:xmpmeta>GPS 38.8977,-77.0365</x:xmpmeta>"
    src = _encode(_noise(40, 20), "JPEG", exif=_exif(6), comment=b"passport of J. Doe",
                  xmp=xmp)
    out = strip_metadata(src)
    for secret in (b"SecretCam", b"owner-laptop", b"passport of J. Doe", b"GPS 38.8977"):
        assert secret in src and secret not in out
    assert Image.open(io.BytesIO(out)).getexif().get(0x0112) == 6
    assert (decode_image(out) == decode_image(src)).all()  # same pixels, same rotation
    assert decode_image(out).shape == (40, 20, 3)


def test_strip_png_metadata():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Jane Doe")
    src = _encode(_noise(), "PNG", pnginfo=info, exif=_exif(3))
    out = strip_metadata(src)
    assert b"Jane Doe" in src and b"Jane Doe" not in out and b"SecretCam" not in out
    assert Image.open(io.BytesIO(out)).getexif().get(0x0112) == 3
    assert (decode_image(out) == decode_image(src)).all()


def test_strip_other_formats_reencodes_losslessly_as_png():
    src = _encode(_noise(), "WEBP", lossless=True, exif=_exif(1))
    out = strip_metadata(src)
    assert out.startswith(b"\x89PNG") and b"SecretCam" not in out
    assert (decode_image(out) == decode_image(src)).all()


def test_decode_slots_bound_concurrency_and_are_reentrant():
    slots = DecodeSlots()
    held, release = threading.Event(), threading.Event()

    def worker():
        with slots.hold(1, 1.0):
            held.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    assert held.wait(5)
    with pytest.raises(DecodeBusyError) as exc, slots.hold(1, 0.05):
        pass
    assert exc.value.retry_after_s >= 1
    release.set()
    t.join()
    with slots.hold(1, 0.05), slots.hold(1, 0.05):  # the same thread nests freely
        assert slots.active == 1
    assert slots.active == 0


def test_decode_image_takes_a_process_wide_slot():
    from bordermatch.io import images

    limits = ImageLimits(max_concurrent_decodes=1, decode_wait_s=0.05)
    data = _encode(_noise(), "PNG")
    held, release = threading.Event(), threading.Event()

    def other_request():
        with images.decode_slot(limits):
            held.set()
            release.wait(5)

    t = threading.Thread(target=other_request)
    t.start()
    try:
        assert held.wait(5)
        with pytest.raises(DecodeBusyError):
            decode_image(data, limits)
    finally:
        release.set()
        t.join()
    assert decode_image(data, limits).shape == (48, 64, 3)
