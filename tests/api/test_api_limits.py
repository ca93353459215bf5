"""Issue 14 findings 2, 4, 5 and 7 at the API: JSON caps, decode budgets and slots, chunked
bodies, repeated parts, metrics labels, metadata stripped before storing."""

from __future__ import annotations

import io
import json
import time

import numpy as np
from PIL import Image
from sqlalchemy import select
from tests.api.api_helpers import auth

from bordermatch.store.tables import Enrolment


def _png(w: int, h: int, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), 0).save(buf, format="PNG")
    return buf.getvalue()


def _problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    return r.json()


def _gate(client, tokens, gallery, photo, lane="g"):
    return client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                       data={"gallery_id": gallery, "lane": lane, "direction": "entry"},
                       files={"photo": ("p.png", photo, "image/png")})


def _enrol(client, tokens, gallery, tid, photo, name="p.jpg"):
    return client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                       data={"traveler_id": tid, "given_names": "G", "surname": "S",
                             "document_type": "P", "document_number": tid,
                             "nationality": "USA", "citizen": "true"},
                       files={"photo": (name, photo, "image/jpeg")})


def test_each_route_has_its_own_pixel_budget(client, tokens, gallery):
    big = _png(4100, 4000)  # 16.4 MP: over the gate budget, within the enrolment one
    body = _problem(_gate(client, tokens, gallery, big), 413, "image_too_large")
    assert "16000000" in body["detail"]
    _problem(_enrol(client, tokens, gallery, "T-BIG", big, "p.png"), 422, "no_face")


def test_a_lying_jpeg_header_is_refused_as_truncated_at_once(client, tokens, gallery):
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(buf, format="JPEG")
    lying = bytearray(buf.getvalue())
    i = lying.find(b"\xff\xc0")
    lying[i + 5:i + 9] = (3900).to_bytes(2, "big") * 2  # 15.2 MP, inside the gate budget
    t = time.perf_counter()
    _problem(_gate(client, tokens, gallery, bytes(lying)), 422, "truncated_image")
    assert time.perf_counter() - t < 1.0


def test_deeply_nested_or_oversized_json_is_refused(client, tokens, gallery, photos):
    assert _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"]).status_code == 201
    frame = [("frames", ("ws/0000_0.jpg", photos["obama2"], "image/jpeg"))]
    for event in ("[" * 50_000 + "]" * 50_000, json.dumps({"event_id": "e", "x": "y" * 200_000})):
        r = client.post("/v1/encounters/vehicle", headers=auth(tokens["lane_device"]),
                        data={"gallery_id": gallery, "event": event}, files=frame)
        _problem(r, 422, "bad_event")
    r = client.post("/v1/galleries", headers=auth(tokens["admin"]) | {
        "content-type": "application/json"}, content='{"name": ' + "[" * 50_000 + "]" * 50_000)
    _problem(r, 422, "bad_json")


def test_repeated_single_valued_parts_are_refused(client, tokens, gallery):
    png = _png(64, 64)
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": "g", "direction": "entry"},
                    files=[("photo", ("a.png", png, "image/png")),
                           ("photo", ("b.png", png, "image/png"))])
    _problem(r, 422, "repeated_part")
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]) | {
        "content-type": "application/x-www-form-urlencoded"},
        content="traveler_id=A&traveler_id=B&given_names=G&surname=S&document_type=P"
                "&document_number=1&nationality=USA&citizen=true&opt_out=true")
    _problem(r, 422, "repeated_part")


def test_form_text_that_is_not_utf8_is_unstorable(client, tokens, gallery):
    body = (b"--b\r\nContent-Disposition: form-data; name=\"gallery_id\"\r\n\r\n"
            + gallery.encode() + b"\r\n--b\r\nContent-Disposition: form-data; name=\"lane\""
            b"\r\n\r\n\xff\xfe\r\n--b\r\nContent-Disposition: form-data; name=\"direction\""
            b"\r\n\r\nentry\r\n--b\r\nContent-Disposition: form-data; name=\"photo\"; "
            b"filename=\"p.png\"\r\n\r\n" + _png(64, 64) + b"\r\n--b--\r\n")
    r = client.post("/v1/encounters/gate", content=body, headers=auth(tokens["gate_device"]) | {
        "content-type": "multipart/form-data; boundary=b"})
    _problem(r, 422, "unstorable_value")


def test_metrics_labels_come_from_a_closed_set(client, tokens, gallery, app, clock):
    from bordermatch.store import keys

    leaked = "T-OBAMA passport P1000001"
    # A key an admin bound to a lane with such a name: still not a metrics label.
    with app.state.service.sessions.begin() as s:
        _, odd = keys.create_key(s, clock, "gate_device", "odd", [leaked, "gate-7"])
    tokens = tokens | {"gate_device": odd}
    served = client.put(f"/v1/galleries/{gallery}/lanes", headers=auth(tokens["admin"]),
                        json={"lanes": [leaked, "gate-7"]})
    assert served.status_code == 200, served.text
    assert _gate(client, tokens, gallery, _png(64, 64), lane=leaked).status_code == 201
    assert _gate(client, tokens, gallery, _png(64, 64), lane="gate-7").status_code == 201
    client.request("BREW", "/metrics")
    public = client.get("/metrics").text
    assert leaked not in public and "BREW" not in public
    assert 'bordermatch_capture_failures_total{lane="other"} 1.0' in public
    assert 'bordermatch_capture_failures_total{lane="gate-7"} 1.0' in public
    assert "bordermatch_decisions_total" not in public
    private = client.get("/v1/metrics", headers=auth(tokens["admin"])).text
    assert 'bordermatch_decisions_total{decision="no_capture",lane="other",row="na"}' in private
    assert leaked not in private
    assert client.get("/v1/metrics", headers=auth(tokens["gate_device"])).status_code == 403


def test_enrolment_photos_are_stored_without_metadata(client, tokens, gallery, photos, app,
                                                      blobs):
    img = Image.open(io.BytesIO(photos["obama"]))
    exif = Image.Exif()
    exif[0x010F] = "BorderCam serial 4411"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, exif=exif.tobytes(), comment=b"J. Doe, P1000001")
    assert _enrol(client, tokens, gallery, "T-EXIF", buf.getvalue()).status_code == 201
    with app.state.service.sessions() as s:
        blob = s.scalar(select(Enrolment.photo_blob).where(Enrolment.traveler_id == "T-EXIF"))
    stored = blobs.get(blob, kind="image")
    assert b"BorderCam" not in stored and b"P1000001" not in stored
    assert stored.startswith(b"\xff\xd8")
