"""Issue 14 finding 1: re-enrolment never rewrites a traveller other galleries share; a new
document of the same person is another reference photo; opt-out deletes what it covers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from tests.api.api_helpers import auth, officer_view

from bordermatch.store.tables import AuditEvent, Enrolment, Occupant, Traveler


def _gallery(client, tokens, clock, name):
    now = clock.now()
    r = client.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": name, "kind": "crossing", "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _enrol(client, tokens, gallery, photo, **over):
    data = {"traveler_id": "T-CIT", "given_names": "Barack", "surname": "Obama",
            "document_type": "P", "document_number": "P1000001", "nationality": "USA",
            "citizen": "true"} | over
    files = {"photo": ("p.jpg", photo, "image/jpeg")} if photo else None
    return client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                       data=data, files=files)


def _gate(client, tokens, gallery, photo):
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": "g1", "direction": "entry"},
                    files={"photo": ("p.jpg", photo, "image/jpeg")})
    return officer_view(client, tokens, r)["occupants"]


def test_reenrolment_with_other_details_is_a_conflict(client, tokens, gallery, photos, app,
                                                     clock):
    assert _enrol(client, tokens, gallery, photos["obama"]).status_code == 201
    other = _gallery(client, tokens, clock, "other")
    r = _enrol(client, tokens, other, photos["biden"], given_names="Joe", surname="Biden",
               document_number="X999", nationality="MEX", citizen="false")
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "traveler_conflict"
    assert "given_names" in body["detail"] and "citizen" in body["detail"]
    # Nothing changed: the citizen's next capture is kept 12 hours, not 336.
    with app.state.service.sessions() as s:
        t = s.get(Traveler, "T-CIT")
        assert (t.given_names, t.citizen, t.opted_out) == ("Barack", True, False)
        assert s.scalars(select(Enrolment).where(Enrolment.gallery_id == other)).all() == []
    occ = _gate(client, tokens, gallery, photos["obama2"])
    assert occ[0]["decision"] == "match"
    with app.state.service.sessions() as s:
        kept = s.scalar(select(Occupant.purge_after).where(Occupant.traveler_id == "T-CIT"))
    assert kept - clock.now() <= timedelta(hours=12)
    # A document of someone else is refused too.
    r = _enrol(client, tokens, other, photos["biden"], traveler_id="T-OTHER",
               given_names="Joe", surname="Biden")
    assert r.status_code == 409 and "belongs to traveller T-CIT" in r.json()["detail"]


def test_a_second_document_is_a_second_reference(client, tokens, gallery, photos, app):
    assert _enrol(client, tokens, gallery, photos["obama"]).status_code == 201
    r = _enrol(client, tokens, gallery, photos["obama2"], document_type="V",
               document_number="V555")
    assert r.status_code == 201, r.text
    assert r.json()["alias_alerts"] == []  # two photos of one traveller flag nothing
    again = _enrol(client, tokens, gallery, photos["obama2"], document_type="V",
                   document_number="V555")
    assert again.status_code == 409, again.text  # the same document again
    extra = client.post(f"/v1/galleries/{gallery}/travelers/T-CIT/references",
                        headers=auth(tokens["officer"]),
                        files={"photo": ("p.jpg", photos["obama_partial_face"], "image/jpeg")})
    assert extra.status_code in (201, 422), extra.text  # a partial face may be refused
    g = client.get(f"/v1/galleries/{gallery}", headers=auth(tokens["officer"])).json()
    assert g["enrolled"] == 1  # one traveller, several references
    with app.state.service.sessions() as s:
        refs = s.scalars(select(Enrolment).where(Enrolment.traveler_id == "T-CIT")).all()
    assert len(refs) >= 2 and {e.document_number for e in refs} >= {"P1000001", "V555"}
    assert _gate(client, tokens, gallery, photos["obama"])[0]["traveler_id"] == "T-CIT"


def test_opt_out_deletes_the_templates_and_photos_it_covers(client, tokens, gallery, photos,
                                                           app, clock, blobs):
    assert _enrol(client, tokens, gallery, photos["obama"]).status_code == 201
    with app.state.service.sessions() as s:
        stored = [b for e in s.scalars(select(Enrolment)) for b in (e.photo_blob,
                                                                    e.template_blob)]
    other = _gallery(client, tokens, clock, "other")
    r = _enrol(client, tokens, other, None, opt_out="true")
    assert r.status_code == 201, r.text
    with app.state.service.sessions() as s:
        rows = s.scalars(select(Enrolment).where(Enrolment.traveler_id == "T-CIT")).all()
        actions = s.scalars(select(AuditEvent.action)).all()
    assert all(e.photo_blob is None and e.template_blob is None for e in rows)
    assert {e.status for e in rows} == {"opted_out"} and "traveler.opt_out" in actions
    assert not any(blobs.exists(b) for b in stored if b)
    occ = _gate(client, tokens, gallery, photos["obama2"])
    assert [o["decision"] for o in occ] == ["no_match"]  # nothing left to search


def test_only_a_supervisor_changes_a_traveller_and_it_is_audited(client, tokens, gallery,
                                                                 photos, app, clock):
    assert _enrol(client, tokens, gallery, photos["obama"], citizen="false",
                  nationality="MEX").status_code == 201
    body = {"citizen": True, "reason": "naturalised; certificate seen"}
    r = client.patch("/v1/travelers/T-CIT", headers=auth(tokens["officer"]), json=body)
    assert r.status_code == 403
    r = client.patch("/v1/travelers/T-CIT", headers=auth(tokens["supervisor"]), json=body)
    assert r.status_code == 200, r.text and r.json()["citizen"] is True
    with app.state.service.sessions() as s:
        e = s.scalar(select(Enrolment).where(Enrolment.traveler_id == "T-CIT"))
        entry = s.scalar(select(AuditEvent).where(AuditEvent.action == "traveler.update"))
    assert e.purge_after - clock.now() <= timedelta(hours=12)  # a citizen's photo now
    assert entry.detail["fields"] == ["citizen"]
    r = client.patch("/v1/travelers/T-CIT", headers=auth(tokens["supervisor"]),
                     json={"document_number": "X", "reason": "x"})
    assert r.status_code == 422
