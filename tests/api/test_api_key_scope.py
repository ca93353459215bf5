"""Issue 14, findings 3 and 6: device and partner keys speak only for their lanes, devices
learn decisions (not identities or scores), and an opt-out does not reveal who exists."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from tests.api.api_helpers import auth
from tests.api.test_api_flow import _enrol_manifest, _gate
from tests.api.test_api_vehicle import EVENT

from bordermatch.errors import InputError
from bordermatch.store import keys
from bordermatch.store.tables import AuditEvent, Encounter, ReviewItem


def _count(app, table) -> int:
    with app.state.service.sessions() as s:
        return len(list(s.scalars(select(table))))


@pytest.mark.parametrize("role", ["lane_device", "gate_device", "airline_partner"])
def test_a_device_or_partner_key_must_name_its_lanes(app, clock, role):
    with app.state.service.sessions.begin() as s, pytest.raises(InputError, match="--lane"):
        keys.create_key(s, clock, role, "unbound")


def test_an_officer_key_is_not_lane_bound(app, clock):
    with app.state.service.sessions.begin() as s, pytest.raises(InputError, match="not bound"):
        keys.create_key(s, clock, "officer", "o", ["gate-7"])


def test_a_gate_key_cannot_post_for_another_gate(client, tokens, gallery, photos, app):
    _enrol_manifest(client, tokens, gallery, photos)
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": "gate-9", "direction": "exit"},
                    files={"photo": ("p.jpg", photos["obama2"], "image/jpeg")})
    assert r.status_code == 403 and r.json()["code"] == "lane_not_bound"
    assert _count(app, Encounter) == 0
    with app.state.service.sessions() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    assert "auth.lane_not_bound" in actions


def test_a_partner_cannot_board_at_a_gate_not_its_own(client, tokens, gallery, photos, app):
    _enrol_manifest(client, tokens, gallery, photos)
    r = client.post(f"/v1/gate/{gallery}/board", headers=auth(tokens["airline_partner"]),
                    data={"gate": "C40"},
                    files={"photo": ("p.jpg", photos["obama2"], "image/jpeg")})
    assert r.status_code == 403 and r.json()["code"] == "lane_not_bound"
    assert _count(app, Encounter) == 0


def test_a_lane_key_cannot_post_another_lanes_vehicle(client, tokens, gallery, photos, app):
    _enrol_manifest(client, tokens, gallery, photos)
    event = dict(EVENT, lane="lane-9")
    r = client.post("/v1/encounters/vehicle", headers=auth(tokens["lane_device"]),
                    data={"gallery_id": gallery, "event": json.dumps(event)},
                    files=[("frames", ("ws/0000_0.jpg", photos["obama2"], "image/jpeg"))])
    assert r.status_code == 403 and r.json()["code"] == "lane_not_bound", r.text


def test_a_device_learns_the_decision_and_an_officer_the_record(client, tokens, gallery,
                                                               photos):
    _enrol_manifest(client, tokens, gallery, photos)
    r = _gate(client, tokens, gallery, photos["obama2"])
    assert r.status_code == 201, r.text
    [occ] = r.json()["occupants"]
    assert occ["decision"] == "match" and occ["quality"] is not None
    assert occ["traveler_id"] is occ["score"] is occ["reason"] is occ["source"] is None
    full = client.get(f"/v1/encounters/{r.json()['id']}", headers=auth(tokens["officer"]))
    [occ] = full.json()["occupants"]
    assert occ["traveler_id"] == "T-OBAMA" and occ["score"] > 0
    assert occ["reason"] == "above_threshold"


def test_verify_gives_a_gate_device_no_score(client, tokens, photos):
    files = {"live": ("a.jpg", photos["obama2"], "image/jpeg"),
             "document": ("b.jpg", photos["obama"], "image/jpeg")}
    device = client.post("/v1/verify", headers=auth(tokens["gate_device"]), files=files).json()
    assert device["decision"] == "match" and device["quality_live"] > 0
    assert device["score"] is device["threshold"] is device["target_fmr"] is None
    officer = client.post("/v1/verify", headers=auth(tokens["officer"]), files=files).json()
    assert officer["decision"] == "match" and officer["score"] > officer["threshold"]


def _opt_out(client, tokens, gallery, traveler_id):
    return client.post("/v1/encounters/opt-out", headers=auth(tokens["gate_device"]),
                       json={"gallery_id": gallery, "lane": "gate-7", "direction": "exit",
                             "traveler_id": traveler_id})


def test_opt_out_answers_alike_for_known_and_unknown_ids(client, tokens, gallery, photos,
                                                         app):
    _enrol_manifest(client, tokens, gallery, photos)
    known, unknown = (_opt_out(client, tokens, gallery, t) for t in ("T-OBAMA", "NOBODY-1"))
    assert known.status_code == unknown.status_code == 201, unknown.text

    def shape(r):
        return [{k: v for k, v in o.items()} for o in r.json()["occupants"]]
    assert shape(known) == shape(unknown)
    with app.state.service.sessions() as s:
        items = {i.encounter_id: i for i in s.scalars(
            select(ReviewItem).where(ReviewItem.kind == "manual_inspection"))}
    # The person at the gate still goes to inspection; the unknown claim names no one.
    assert items[known.json()["id"]].traveler_id == "T-OBAMA"
    assert items[unknown.json()["id"]].traveler_id is None


def test_opt_out_does_not_link_a_traveller_of_another_gallery(client, tokens, gallery,
                                                              photos, app, clock):
    from datetime import timedelta

    _enrol_manifest(client, tokens, gallery, photos)
    other = client.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "another flight", "kind": "flight",
        "valid_from": (clock.now() - timedelta(hours=1)).isoformat(),
        "valid_until": (clock.now() + timedelta(days=1)).isoformat(),
        "lanes": ["gate-7"]}).json()["id"]
    r = _opt_out(client, tokens, other, "T-OBAMA")
    assert r.status_code == 201, r.text
    with app.state.service.sessions() as s:
        item = s.scalar(select(ReviewItem).where(ReviewItem.encounter_id == r.json()["id"]))
    assert item is not None and item.traveler_id is None

