"""Bad requests get a 4xx application/problem+json, never a 500, and change nothing."""

from __future__ import annotations

import io

from PIL import Image
from tests.api.api_helpers import auth


def _png(w=64, h=64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 120, 120)).save(buf, format="PNG")
    return buf.getvalue()


def _problem(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if code:
        assert body["code"] == code
    return body


def _gate(client, tokens, gallery, photo, content_type="image/jpeg"):
    return client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                       data={"gallery_id": gallery, "lane": "g", "direction": "entry"},
                       files={"photo": ("p.jpg", photo, content_type)})


def test_bad_images(client, tokens, gallery, photos, blobs):
    _problem(_gate(client, tokens, gallery, b""), 422, "empty_image")
    _problem(_gate(client, tokens, gallery, b"%PDF-1.4 not an image"), 422, "corrupt_image")
    _problem(_gate(client, tokens, gallery, photos["obama"][:2000]), 422, "corrupt_image")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    _problem(_gate(client, tokens, gallery, gif.getvalue()), 415, "unsupported_image")
    assert list(blobs.ids()) == []  # nothing half-stored


def test_oversized_upload_and_request(client, tokens, gallery, app):
    limit = app.state.service.settings.max_upload_bytes
    _problem(_gate(client, tokens, gallery, b"\xff" * (limit + 10)), 413, "image_too_large")
    big = app.state.service.settings.max_request_bytes + 1
    r = client.post("/v1/verify", headers=auth(tokens["gate_device"]) | {
        "content-type": "multipart/form-data; boundary=x", "content-length": str(big)},
        content=b"--x--")
    _problem(r, 413, "request_too_large")


def test_wrong_content_types(client, tokens, gallery):
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    json={"gallery_id": gallery})
    _problem(r, 415, "unsupported_media_type")
    r = client.post("/v1/galleries", headers=auth(tokens["admin"]),
                    files={"x": ("a", b"b", "text/plain")})
    assert r.status_code in (400, 415, 422) and r.headers["content-type"].endswith(
        "problem+json")


def test_malformed_and_invalid_json(client, tokens):
    headers = auth(tokens["admin"]) | {"content-type": "application/json"}
    _problem(client.post("/v1/galleries", headers=headers, content=b'{"name": '), 400,
             "malformed_json")
    _problem(client.post("/v1/galleries", headers=headers, content=b'{"name": "x"}'), 422,
             "validation_error")
    r = client.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "x", "kind": "crossing", "valid_from": "2026-01-02T00:00:00Z",
        "valid_until": "2026-01-01T00:00:00Z"})
    _problem(r, 422, "bad_input")


def test_unknown_ids_are_404(client, tokens, photos):
    officer = auth(tokens["officer"])
    _problem(client.get("/v1/encounters/nope", headers=officer), 404, "unknown_record")
    _problem(client.get("/v1/travelers/nope/crossings", headers=officer), 404)
    _problem(client.get("/v1/galleries/nope", headers=officer), 404)
    _problem(client.post("/v1/review/nope/decision", headers=officer,
                         json={"decision": "accept", "reason": "r"}), 404)
    _problem(_gate(client, tokens, "nope", photos["obama"]), 404)
    _problem(client.get("/v1/nothing-here"), 404)


def test_no_face_closed_gallery_and_bad_manifest(client, tokens, gallery):
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data={"traveler_id": "T", "given_names": "G", "surname": "S",
                          "document_type": "P", "document_number": "1", "nationality": "USA",
                          "citizen": "true"}, files={"photo": ("p.png", _png(), "image/png")})
    _problem(r, 422, "no_face")
    r = client.post(f"/v1/galleries/{gallery}/manifest", headers=auth(tokens["admin"]),
                    files={"manifest": ("m.csv", b"\xff\xfe\x00garbage", "text/csv")})
    _problem(r, 422, "bad_manifest")
    r = client.post(f"/v1/galleries/{gallery}/manifest", headers=auth(tokens["admin"]),
                    files={"manifest": ("m.csv", b"a,b\n1,2\n", "text/csv")})
    _problem(r, 422, "bad_manifest")
    assert client.post(f"/v1/galleries/{gallery}/close",
                       headers=auth(tokens["admin"])).status_code == 200
    _problem(_gate(client, tokens, gallery, _png()), 409, "record_state")
    _problem(client.post(f"/v1/galleries/{gallery}/close", headers=auth(tokens["admin"])), 409)


def test_gallery_outside_its_validity_window(client, tokens, gallery, clock, photos):
    clock.advance(days=2)
    _problem(_gate(client, tokens, gallery, photos["obama"]), 409, "record_state")
