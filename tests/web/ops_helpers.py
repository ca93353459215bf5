"""Seeding a lane and opening page sessions, for the operations page tests."""

from __future__ import annotations

import io

from tests.api.api_helpers import auth
from tests.web.web_helpers import enrol, sign_in

from bordermatch.web.sessions import COOKIE


def page_session(client, app, token: str) -> None:
    """A page session for ``token``. Officers and supervisors sign in through the form; the
    review sign-in does not let auditors in yet (web/pages.py), so their session is opened in
    the app's session store, as the sign-in would."""
    r = sign_in(client, token)
    if r.status_code == 200:
        return
    sid, _ = app.state.web_sessions.create(token)
    client.cookies.set(COOKIE, sid)


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
