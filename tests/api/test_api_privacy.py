"""Retention with a controlled clock, the in-process purge schedule, and opt-out."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from tests.api.api_helpers import DEVICE_LANES, auth, officer_view

from bordermatch.store.tables import Enrolment, Occupant, ReviewItem


def _enrol(client, tokens, gallery, tid, photo, citizen, opt_out=False):
    data = {"traveler_id": tid, "given_names": "G", "surname": "S", "document_type": "P",
            "document_number": tid, "nationality": "USA" if citizen else "MEX",
            "citizen": str(citizen).lower(), "opt_out": str(opt_out).lower()}
    files = {"photo": ("p.jpg", photo, "image/jpeg")} if photo else None
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data=data, files=files)
    assert r.status_code == 201, r.text
    return r.json()


def _gate(client, tokens, gallery, photo):
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": "g1", "direction": "entry"},
                    files={"photo": ("p.jpg", photo, "image/jpeg")})
    return officer_view(client, tokens, r)


def test_citizen_biometrics_gone_within_12h_noncitizen_kept(client, tokens, gallery, photos,
                                                            app, clock, blobs):
    service = app.state.service
    _enrol(client, tokens, gallery, "CIT", photos["obama"], citizen=True)
    _enrol(client, tokens, gallery, "NON", photos["biden"], citizen=False)
    assert _gate(client, tokens, gallery, photos["obama2"])["occupants"][0]["decision"] == "match"
    assert _gate(client, tokens, gallery, photos["biden2"])["occupants"][0]["decision"] == "match"
    with service.sessions() as s:
        cit = s.scalar(select(Enrolment).where(Enrolment.traveler_id == "CIT"))
        cit_blobs = {cit.photo_blob, cit.template_blob} | {
            b for o in s.scalars(select(Occupant).where(Occupant.traveler_id == "CIT"))
            for b in (o.capture_blob, o.template_blob)}
    assert len(cit_blobs) == 4 and all(blobs.exists(b) for b in cit_blobs)

    clock.advance(hours=11, minutes=59)
    service.purge()
    assert all(blobs.exists(b) for b in cit_blobs)
    clock.advance(minutes=1)
    report = service.purge()
    assert report.enrolments == 1 and report.occupants == 1
    assert not any(blobs.exists(b) for b in cit_blobs)
    # The non-citizen's 4 blobs remain under the configured (longer) retention.
    assert len(list(blobs.ids())) == 4
    # The purged citizen can no longer be matched; the non-citizen still can.
    assert _gate(client, tokens, gallery, photos["obama2"])["occupants"][0]["decision"] \
        == "no_match"
    assert _gate(client, tokens, gallery, photos["biden2"])["occupants"][0]["traveler_id"] \
        == "NON"


def test_purge_runs_in_process_on_a_schedule(settings, clock, blobs, face_engine, photos):
    from fastapi.testclient import TestClient

    from bordermatch.api.app import create_app
    from bordermatch.store import keys

    sched = settings.model_copy(update={"run_purge_scheduler": True, "purge_interval_s": 0.2})
    app = create_app(sched, clock=clock, engine_factory=lambda: face_engine, blobs=blobs)
    with TestClient(app) as client:
        with app.state.service.sessions.begin() as s:
            _, admin = keys.create_key(s, clock, "admin", "a")
            _, officer = keys.create_key(s, clock, "officer", "o")
        now = clock.now()
        g = client.post("/v1/galleries", headers=auth(admin), json={
            "name": "x", "kind": "crossing", "valid_from": now.isoformat(),
            "valid_until": now.replace(year=now.year + 1).isoformat(),
            "lanes": list(DEVICE_LANES)}).json()["id"]
        _enrol(client, {"officer": officer}, g, "CIT", photos["obama"], citizen=True)
        assert len(list(blobs.ids())) == 2
        clock.advance(hours=12)
        deadline = time.monotonic() + 10
        while list(blobs.ids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(blobs.ids()) == []


def test_opt_out_stores_no_capture_and_queues_manual_inspection(client, tokens, gallery,
                                                                photos, app, blobs):
    out = _enrol(client, tokens, gallery, "OPT", None, citizen=True, opt_out=True)
    assert out["status"] == "opted_out" and out["quality"] is None
    assert list(blobs.ids()) == []
    r = client.post("/v1/encounters/opt-out", headers=auth(tokens["gate_device"]),
                    json={"gallery_id": gallery, "lane": "g1", "direction": "entry",
                          "traveler_id": "OPT"})
    assert r.status_code == 201, r.text
    assert [o["decision"] for o in r.json()["occupants"]] == ["manual_inspection"]
    assert list(blobs.ids()) == []
    with app.state.service.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Occupant)
                        .where(Occupant.capture_blob.is_not(None))) == 0
        item = s.scalar(select(ReviewItem).where(ReviewItem.kind == "manual_inspection"))
    assert item.traveler_id == "OPT"
    # No biometric crossing until the officer completes the inspection.
    officer = auth(tokens["officer"])
    assert client.get("/v1/travelers/OPT/crossings", headers=officer).json() == []
    client.post(f"/v1/review/{item.id}/decision", headers=officer,
                json={"decision": "accept", "reason": "passport inspected at booth 2"})
    manual = client.get("/v1/travelers/OPT/crossings?include_manual=true", headers=officer)
    assert [c["method"] for c in manual.json()] == ["manual_inspection"]
    # A later enrolment attempt with a photo keeps honouring the opt-out.
    again = client.post(f"/v1/galleries/{gallery}/travelers", headers=officer, data={
        "traveler_id": "OPT", "given_names": "G", "surname": "S", "document_type": "P",
        "document_number": "OPT", "nationality": "USA", "citizen": "true"},
        files={"photo": ("p.jpg", photos["obama"], "image/jpeg")})
    assert again.status_code == 409  # already enrolled (opted out) in this gallery
    assert list(blobs.ids()) == []
