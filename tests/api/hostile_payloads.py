"""Small hostile payloads and request builders for tests/api/test_hostile_inputs.py."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tests.api.api_helpers import auth

PUBLICDOMAIN = Path(__file__).resolve().parents[2] / "src/bordermatch/data/publicdomain"
EVENT = {"event_id": "veh-1", "lane": "lane-3", "direction": "entry",
         "started_at": "2026-01-01T08:00:00+00:00",
         "cameras": [{"id": "ws", "view": "windshield"}]}
UPLOAD_LIMIT = 2 * 1024 * 1024


@dataclass
class Env:
    client: object
    app: object
    tokens: dict
    gallery: str
    closed: str
    revoked: str


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def noise(w: int = 64, h: int = 48) -> Image.Image:
    return Image.fromarray(np.random.default_rng(7).integers(0, 255, (h, w, 3), np.uint8))


def jpeg_claiming(w: int, h: int) -> bytes:
    b = bytearray(encode(noise(), "JPEG"))
    i = b.find(b"\xff\xc0")
    b[i + 5:i + 9] = h.to_bytes(2, "big") + w.to_bytes(2, "big")
    return bytes(b)


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + ctype + data
            + struct.pack(">I", zlib.crc32(ctype + data)))


def png_claiming(w: int, h: int, depth: int = 8, color: int = 2, idat: bytes | None = None,
                 iend: bool = True) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\x00" * 100)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", body)
            + (png_chunk(b"IEND", b"") if iend else b""))


def png_bomb(w: int, h: int, mode: str = "L") -> bytes:
    return encode(Image.new(mode, (w, h), 0), "PNG", optimize=True)


def bmp_claiming(w: int, h: int) -> bytes:
    b = bytearray(encode(noise(8, 8), "BMP"))
    b[18:26] = struct.pack("<ii", w, h)
    return bytes(b)


def ppm(w: int, h: int, data: bytes) -> bytes:
    return f"P6\n{w} {h}\n255\n".encode() + data


def tiff_bomb() -> bytes:
    return encode(Image.new("1", (8000, 8000), 0), "TIFF", compression="group4")


def gif(animated: bool = False) -> bytes:
    frames = [Image.new("P", (8, 8), k) for k in range(3)]
    if animated:
        return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    return encode(frames[0], "GIF")


def good_jpeg() -> bytes:
    return encode(noise(), "JPEG")


def crc_broken_png() -> bytes:
    b = bytearray(encode(noise(), "PNG"))
    i = b.find(b"IDAT")
    b[i + 10] ^= 0xFF
    return bytes(b)


# name -> (bytes, expected status, expected code): every one is refused before decoding or
# by the decoder, on every route that takes an image.
IMAGES = {
    "empty": (b"", 422, "empty_image"),
    "text": (b"hello, I am not an image", 422, "corrupt_image"),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF", 422, "corrupt_image"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>', 422,
            "corrupt_image"),
    "gzip": (gzip.compress(b"\x00" * 10_000), 422, "corrupt_image"),
    "jpeg_soi_eoi": (b"\xff\xd8\xff\xd9", 422, "corrupt_image"),
    "jpeg_header_only": (good_jpeg()[:300], 422, "corrupt_image"),
    "jpeg_cut_in_scan": (encode(noise(640, 480), "JPEG", quality=95)[:40_000], 422,
                         "truncated_image"),
    "jpeg_lying_15mp": (jpeg_claiming(3900, 3900), 422, "truncated_image"),
    "jpeg_lying_36mp": (jpeg_claiming(6000, 6000), 413, "image_too_large"),
    "jpeg_lying_4gp": (jpeg_claiming(65500, 65500), 413, "image_too_large"),
    "png_lying_ihdr": (png_claiming(3000, 3000), 422, "truncated_image"),
    "png_no_iend": (png_claiming(64, 64, iend=False), 422, "truncated_image"),
    "png_zero_width": (png_claiming(0, 64), 422, "corrupt_image"),
    "png_bomb_40mp": (png_bomb(6300, 6300), 413, "image_too_large"),
    "png_bomb_1bit": (png_bomb(20000, 20000, "1"), 413, "image_too_large"),
    "png_bad_crc": (crc_broken_png(), 422, "corrupt_image"),
    "bmp_lying": (bmp_claiming(30000, 30000), 413, "image_too_large"),
    "ppm_huge": (ppm(100_000, 100_000, b"\x00" * 10), 413, "image_too_large"),
    "ppm_short": (ppm(64, 64, b"\x00" * 10), 422, "corrupt_image"),
    "tiff_bomb": (tiff_bomb(), 413, "image_too_large"),
    "gif": (gif(), 415, "unsupported_image"),
    "gif_animated": (gif(True), 415, "unsupported_image"),
    "ico": (encode(noise(16, 16), "ICO"), 415, "unsupported_image"),
    "float_tiff": (encode(Image.new("F", (16, 16), 1.5), "TIFF"), 415, "unsupported_image"),
    "webp_cut": (encode(noise(), "WEBP")[:60], 422, "corrupt_image"),
}


# -- request builders -------------------------------------------------------------------------
def _files(name, data, filename="p.jpg"):
    return {name: (filename, data, "image/jpeg")}


def gate(env, photo=None, lane="g", gallery=None, headers=None, files=None, data=None):
    return env.client.post("/v1/encounters/gate", headers=auth(env.tokens["gate_device"]) | (
        headers or {}), data=data or {"gallery_id": gallery or env.gallery, "lane": lane,
                                      "direction": "entry"},
        files=files or _files("photo", good_jpeg() if photo is None else photo))


def verify(env, live=None, document=None, files=None):
    return env.client.post("/v1/verify", headers=auth(env.tokens["gate_device"]), files=files or {
        "live": ("l.jpg", good_jpeg() if live is None else live, "image/jpeg"),
        "document": ("d.jpg", good_jpeg() if document is None else document, "image/jpeg")})


def board(env, photo=None, gate_name="gate", headers=None, files=None):
    return env.client.post(f"/v1/gate/{env.gallery}/board",
                           headers=auth(env.tokens["airline_partner"]) | (headers or {}),
                           data={"gate": gate_name},
                           files=files or _files("photo", good_jpeg() if photo is None else photo))


BIO = {"traveler_id": "T-NEW", "given_names": "G", "surname": "S", "document_type": "P",
       "document_number": "D1", "nationality": "USA", "citizen": "false"}


def enrol(env, photo=None, gallery=None, files=None, **fields):
    return env.client.post(f"/v1/galleries/{gallery or env.gallery}/travelers",
                           headers=auth(env.tokens["officer"]), data=BIO | fields,
                           files=files or _files("photo", good_jpeg() if photo is None else photo))


def vehicle(env, event=None, frames=None, headers=None):
    ev = event if isinstance(event, str) else json.dumps(EVENT if event is None else event)
    return env.client.post("/v1/encounters/vehicle",
                           headers=auth(env.tokens["lane_device"]) | (headers or {}),
                           data={"gallery_id": env.gallery, "event": ev},
                           files=frames or [("frames", ("ws/0000_0.jpg", good_jpeg(),
                                                        "image/jpeg"))])


def opt_out(env, headers=None, **fields):
    body = {"gallery_id": env.gallery, "lane": "g", "direction": "entry",
            "traveler_id": "T-1"} | fields
    # json.dumps escapes a lone surrogate as \ud800, as a hostile client would send it.
    return env.client.post("/v1/encounters/opt-out", content=json.dumps(body).encode(),
                           headers=auth(env.tokens["gate_device"]) | (headers or {}) | {
                               "content-type": "application/json"})


def raw(env, method, path, role="admin", content=b"", ctype="application/json", headers=None):
    h = (auth(env.tokens[role]) if role else {}) | ({"content-type": ctype} if ctype else {})
    return env.client.request(method, path, headers=h | (headers or {}), content=content)


def multipart(env, path, role, parts: list[tuple[bytes, bytes]]):
    """A hand-built multipart body: (Content-Disposition parameters, content) per part."""
    body = b"".join(b"--B\r\nContent-Disposition: form-data; " + disp + b"\r\n\r\n" + data
                    + b"\r\n" for disp, data in parts) + b"--B--\r\n"
    return raw(env, "POST", path, role, body, "multipart/form-data; boundary=B")


def gate_parts(env, lane=b"g", photo_disp=b'name="photo"; filename="p.jpg"', extra=()):
    return [(b'name="gallery_id"', env.gallery.encode()), (b'name="lane"', lane),
            (b'name="direction"', b"entry"), (photo_disp, good_jpeg()), *extra]
