"""Seeding a lane and opening page sessions, for the operations page tests."""

from __future__ import annotations

import io

from tests.api.api_helpers import auth
from tests.web.web_helpers import enrol, sign_in


def page_session(client, app, token: str) -> None:
    """A page session for ``token``, through the sign-in form (officers, supervisors and
    auditors may sign in; auditors land on the reports)."""
    r = sign_in(client, token)
    assert r.status_code == 200, r.text


def blank_jpeg(size: int = 160) -> bytes:
    """A grey photo with no face in it: a no-capture at a gate."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (128, 128, 128)).save(buf, "JPEG")
    return buf.getvalue()


def gate_photo(client, tokens, gallery: str, photo: bytes, lane: str = "gate-3") -> dict:
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": lane, "direction": "entry"},
                    files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    return r.json()


def seed_gate_lane(client, tokens, gallery: str, photos: dict[str, bytes], clock,
                   enrolled: str = "obama", probe: str = "obama2",
                   stranger: str = "biden") -> dict[str, str]:
    """``enrolled`` joins the gallery; at gate-3 ``probe`` (the same person) is decided,
    ``stranger`` is searched and a blank photo is a no-capture, a few seconds apart (the test
    clock stands still otherwise). Returns the encounter ids by what they show."""
    enrol(client, tokens["officer"], gallery, "T-GATE", photos[enrolled], surname="Gate")
    ids = {}
    for name, photo in (("match", photos[probe]), ("stranger", photos[stranger]),
                        ("blank", blank_jpeg())):
        clock.advance(seconds=5)
        ids[name] = gate_photo(client, tokens, gallery, photo)["id"]
    return ids


def car_frame(photos: dict[str, bytes], names: tuple[str, ...], shift: int) -> bytes:
    """A 960x540 windshield frame with the named faces side by side."""
    from PIL import Image

    canvas = Image.new("RGB", (960, 540), (40, 45, 50))
    for i, name in enumerate(names):
        face = Image.open(io.BytesIO(photos[name])).convert("RGB")
        face.thumbnail((300, 300))
        canvas.paste(face, (120 + i * 420 + shift, 120))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def post_vehicle(client, tokens, gallery: str, photos: dict[str, bytes], names: tuple[str, ...],
                 event_id: str, lane: str = "lane-3") -> dict:
    import json

    event = {"event_id": event_id, "lane": lane, "direction": "entry",
             "started_at": "2026-01-01T08:00:00+00:00",
             "cameras": [{"id": "ws", "view": "windshield"}]}
    frames = [(f"ws/{k:04d}_{k * 100}.jpg", car_frame(photos, names, 10 * k)) for k in range(2)]
    r = client.post("/v1/encounters/vehicle", headers=auth(tokens["lane_device"]),
                    data={"gallery_id": gallery, "event": json.dumps(event)},
                    files=[("frames", (n, d, "image/jpeg")) for n, d in frames])
    assert r.status_code == 201, r.text
    return r.json()
