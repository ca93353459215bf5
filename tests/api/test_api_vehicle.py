"""Vehicle encounters through the lane pipeline: a two-occupant car from public-domain photos."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image
from tests.api.api_helpers import auth, officer_view


def _frame(photos, shift: int) -> bytes:
    """A 960x540 frame with two occupants side by side, moving ``shift`` px between frames."""
    canvas = Image.new("RGB", (960, 540), (40, 45, 50))
    for i, name in enumerate(("obama2", "biden2")):
        face = Image.open(io.BytesIO(photos[name])).convert("RGB")
        face.thumbnail((300, 300))
        canvas.paste(face, (120 + i * 420 + shift, 120))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def _one(photos, name: str, shift: int) -> bytes:
    """A 960x540 frame with one occupant."""
    canvas = Image.new("RGB", (960, 540), (40, 45, 50))
    face = Image.open(io.BytesIO(photos[name])).convert("RGB")
    face.thumbnail((300, 300))
    canvas.paste(face, (320 + shift, 120))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def _enrol(client, tokens, gallery, tid, photo):
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data={"traveler_id": tid, "given_names": "G", "surname": "S",
                          "document_type": "P", "document_number": tid, "nationality": "USA",
                          "citizen": "true"}, files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text


def _submit(client, tokens, gallery, event, frames, key=None):
    headers = auth(tokens["lane_device"]) | ({"Idempotency-Key": key} if key else {})
    return client.post("/v1/encounters/vehicle", headers=headers,
                       data={"gallery_id": gallery, "event": json.dumps(event)},
                       files=[("frames", (n, d, "image/jpeg")) for n, d in frames])


EVENT = {"event_id": "veh-1", "lane": "lane-3", "direction": "entry",
         "started_at": "2026-01-01T08:00:00+00:00", "cameras": [{"id": "ws", "view": "windshield"}]}


def test_vehicle_event_decides_each_occupant(client, tokens, gallery, photos):
    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    _enrol(client, tokens, gallery, "T-BIDEN", photos["biden"])
    frames = [(f"ws/{k:04d}_{k * 100}.jpg", _frame(photos, 10 * k)) for k in range(2)]
    r = _submit(client, tokens, gallery, EVENT, frames, key="veh-1")
    body = officer_view(client, tokens, r)
    assert body["kind"] == "vehicle" and body["lane"] == "lane-3"
    matched = sorted(o["traveler_id"] for o in body["occupants"] if o["decision"] == "match")
    assert matched == ["T-BIDEN", "T-OBAMA"]
    again = _submit(client, tokens, gallery, EVENT, frames, key="veh-1")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    crossings = client.get("/v1/travelers/T-BIDEN/crossings", headers=auth(tokens["officer"]))
    assert [(c["lane"], c["direction"]) for c in crossings.json()] == [("lane-3", "entry")]


def test_bad_vehicle_events_are_422(client, tokens, gallery, photos):
    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    good = [("ws/0000_0.jpg", _frame(photos, 0))]
    cases = [
        (EVENT, [("../../etc/passwd", b"x")]),
        (EVENT, [("ws/frame.jpg", good[0][1])]),
        (EVENT | {"cameras": []}, good),  # frames for a camera the event does not list
        (EVENT | {"direction": "sideways"}, good),
        (EVENT, [("ws/0000_0.jpg", np.zeros(100, np.uint8).tobytes())]),  # unreadable
    ]
    for event, frames in cases:
        r = _submit(client, tokens, gallery, event, frames)
        assert r.status_code == 422, (event, [n for n, _ in frames], r.text)
        assert r.headers["content-type"] == "application/problem+json"
    r = client.post("/v1/encounters/vehicle", headers=auth(tokens["lane_device"]),
                    data={"gallery_id": gallery, "event": "{not json"},
                    files=good and [("frames", (good[0][0], good[0][1], "image/jpeg"))])
    assert r.status_code == 422


def test_a_vehicle_occupant_whom_two_identities_fit_is_review(client, tokens, gallery, photos):
    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    _enrol(client, tokens, gallery, "T-BIDEN", photos["biden"])
    _enrol(client, tokens, gallery, "T-OBAMA-2", photos["obama"])  # same face, second name
    items = client.get("/v1/review", headers=auth(tokens["officer"]), params={"kind": "alias"})
    assert items.status_code == 200 and len(items.json()) >= 1
    frames = [(f"ws/{k:04d}_{k * 100}.jpg", _frame(photos, 10 * k)) for k in range(2)]
    r = _submit(client, tokens, gallery, EVENT | {"event_id": "veh-alias"}, frames)
    assert r.status_code == 201, r.text
    got = {o["traveler_id"]: o["decision"] for o in officer_view(client, tokens, r)[
        "occupants"]}
    assert got.get("T-BIDEN") == "match"
    obama = [d for t, d in got.items() if t in ("T-OBAMA", "T-OBAMA-2")]
    assert obama == ["review"]


def test_documents_read_for_a_vehicle_are_verified_1_to_few(client, tokens, gallery, photos):
    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    _enrol(client, tokens, gallery, "T-BIDEN", photos["biden"])
    frames = [(f"ws/{k:04d}_{k * 100}.jpg", _frame(photos, 10 * k)) for k in range(2)]
    # _enrol gives each traveller its id as document number.
    reads = [{"document_type": "P", "document_number": "T-BIDEN", "nationality": "USA",
              "source": "rfid"},
             {"document_type": "C", "document_number": "NOBODY", "nationality": "CAN",
              "source": "rfid"}]
    r = _submit(client, tokens, gallery, EVENT | {"event_id": "veh-docs", "documents": reads},
                frames)
    assert r.status_code == 201, r.text
    got = {o["traveler_id"]: (o["decision"], o["source"])
           for o in officer_view(client, tokens, r)["occupants"]}
    assert got == {"T-BIDEN": ("match", "document"), "T-OBAMA": ("match", "gallery")}
    # A card read whose holder no face matched is an item for an officer, not a crossing.
    reads.append({"document_type": "P", "document_number": "T-OBAMA", "nationality": "USA",
                  "source": "mrz"})
    solo = [(f"ws/{k:04d}_{k * 100}.jpg", _one(photos, "biden2", 10 * k)) for k in range(2)]
    r = _submit(client, tokens, gallery, EVENT | {"event_id": "veh-absent", "documents": reads},
                solo)
    assert r.status_code == 201, r.text
    assert {o["traveler_id"] for o in officer_view(client, tokens, r)["occupants"]
            if o["decision"] == "match"} == {
        "T-BIDEN"}
    items = client.get("/v1/review", headers=auth(tokens["officer"]),
                       params={"kind": "unmatched_document"}).json()
    assert [(i["traveler_id"], i["encounter_id"]) for i in items] == [("T-OBAMA", r.json()["id"])]
    crossings = client.get("/v1/travelers/T-OBAMA/crossings", headers=auth(tokens["officer"]))
    assert [c["encounter_id"] for c in crossings.json()] != [r.json()["id"]]
    bad = EVENT | {"event_id": "veh-bad-docs",
                   "documents": [{"document_number": "X", "source": "telepathy"}]}
    r = _submit(client, tokens, gallery, bad, frames)
    assert r.status_code == 422 and "documents[0]" in r.text


def test_a_large_gallery_verifies_reads_on_s_normalised_scores(client, tokens, gallery, photos,
                                                               app, clock, monkeypatch):
    """With a cohort of 200+ travellers the service's vehicle lanes take the S-norm point
    (docs/lane.md, "Normalised document scores") and verify the reads on it."""
    assert read_in_a_large_gallery(client, tokens, gallery, photos, app, clock,
                                   monkeypatch).document_norm == "snorm"


def read_in_a_large_gallery(client, tokens, gallery, photos, app, clock, monkeypatch):
    """Obama and Biden and 200 template-only travellers enrolled; a car of the two with
    both their cards read is matched by the documents. The pipeline it was decided by."""
    from datetime import timedelta

    from bordermatch.match.normalise import MIN_COHORT
    from bordermatch.service import vehicle
    from bordermatch.store import repo
    from bordermatch.store.keys import Principal

    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    _enrol(client, tokens, gallery, "T-BIDEN", photos["biden"])
    service = app.state.service
    rng = np.random.default_rng(11)
    who = Principal("k-admin", "Ada Admin", "admin")
    with service.sessions.begin() as s:  # a cohort: travellers enrolled from templates
        g = repo.get_gallery(s, gallery)
        for i in range(MIN_COHORT):
            v = rng.normal(size=128).astype(np.float32)
            v /= np.linalg.norm(v)
            repo.add_enrolment(s, who, clock.now(), g, repo.Biographics(
                f"T-C{i}", "G", "S", "P", f"C{i}", "USA", False), None,
                service.blobs.put(v.tobytes(), kind="template"), "sface", 80.0,
                clock.now() + timedelta(days=1))
    built = []
    real = vehicle.LanePipeline

    def spy(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(vehicle, "LanePipeline", spy)
    frames = [(f"ws/{k:04d}_{k * 100}.jpg", _frame(photos, 10 * k)) for k in range(2)]
    reads = [{"document_type": "P", "document_number": t, "nationality": "USA",
              "source": "rfid"} for t in ("T-OBAMA", "T-BIDEN")]
    r = _submit(client, tokens, gallery, EVENT | {"event_id": "veh-snorm", "documents": reads},
                frames)
    assert r.status_code == 201, r.text
    occupants = officer_view(client, tokens, r)["occupants"]
    assert {(o["traveler_id"], o["decision"], o["source"]) for o in occupants} == {
        ("T-OBAMA", "match", "document"), ("T-BIDEN", "match", "document")}
    return built[-1]
