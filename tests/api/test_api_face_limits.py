"""Issue 14 findings 3 and 4: faces per photo are bounded per route, and boarding works only
against flight galleries with one-face photos; a refusal stores nothing."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from sqlalchemy import func, select
from tests.api.api_helpers import DEVICE_LANES, auth

from bordermatch.store.tables import Encounter


def _tiled(photo: bytes, n: int) -> bytes:
    """The same portrait n x n times: n*n faces in one photo."""
    face = Image.open(io.BytesIO(photo)).convert("RGB")
    face.thumbnail((220, 220))
    canvas = Image.new("RGB", (face.width * n, face.height * n), (90, 90, 90))
    for i in range(n * n):
        canvas.paste(face, ((i % n) * face.width, (i // n) * face.height))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def _encounters(app) -> int:
    with app.state.service.sessions() as s:
        return s.scalar(select(func.count()).select_from(Encounter))


def test_a_photo_tiled_with_faces_is_refused_at_the_gate(client, tokens, gallery, photos, app):
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": "g1", "direction": "entry"},
                    files={"photo": ("p.jpg", _tiled(photos["obama"], 3), "image/jpeg")})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "too_many_faces" and _encounters(app) == 0


def test_boarding_needs_one_face_and_a_flight_gallery(client, tokens, gallery, photos, app,
                                                     clock):
    r = client.post(f"/v1/gate/{gallery}/board", headers=auth(tokens["airline_partner"]),
                    data={"gate": "B12"},
                    files={"photo": ("p.jpg", photos["two_people"], "image/jpeg")})
    assert r.status_code == 422 and r.json()["code"] == "too_many_faces", r.text
    now = clock.now()
    crossing = client.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "land crossing", "kind": "crossing",
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(),
        "lanes": list(DEVICE_LANES)}).json()["id"]
    r = client.post(f"/v1/gate/{crossing}/board", headers=auth(tokens["airline_partner"]),
                    data={"gate": "B12"},
                    files={"photo": ("p.jpg", photos["biden2"], "image/jpeg")})
    assert r.status_code == 409 and "flight" in r.json()["detail"], r.text
    assert _encounters(app) == 0
