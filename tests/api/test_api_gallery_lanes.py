"""Issue 14, finding 3: a gallery names the lanes that serve it, so a device or partner key
bound to its own lane still cannot submit into another gate's flight or another port's
crossing gallery."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from tests.api.api_helpers import auth
from tests.api.test_api_flow import _enrol_manifest, _gate
from tests.api.test_api_vehicle import EVENT

from bordermatch.store.tables import AuditEvent, Encounter


def _gallery(client, tokens, clock, lanes, kind="flight") -> str:
    body = {"name": "Flight BM9 departure", "kind": kind,
            "valid_from": (clock.now() - timedelta(hours=1)).isoformat(),
            "valid_until": (clock.now() + timedelta(days=1)).isoformat()}
    if lanes is not None:
        body["lanes"] = lanes
    r = client.post("/v1/galleries", headers=auth(tokens["admin"]), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["lanes"] == (lanes or [])
    return r.json()["id"]


def _encounters(app) -> int:
    with app.state.service.sessions() as s:
        return len(list(s.scalars(select(Encounter))))


def _actions(app) -> list[str]:
    with app.state.service.sessions() as s:
        return list(s.scalars(select(AuditEvent.action)))


def test_a_gate_key_cannot_submit_to_a_gallery_its_gate_does_not_serve(client, tokens, photos,
                                                                       app, clock):
    other_gate = _gallery(client, tokens, clock, ["gate-1"])
    _enrol_manifest(client, tokens, other_gate, photos)
    # The key is bound to gate-7 and says gate-7, but gate-7 does not serve this flight.
    r = _gate(client, tokens, other_gate, photos["obama2"])
    assert r.status_code == 403 and r.json()["code"] == "lane_not_serving_gallery", r.text
    assert _encounters(app) == 0
    assert "auth.lane_not_serving_gallery" in _actions(app)


def test_a_gallery_without_lanes_takes_no_device_submissions(client, tokens, photos, app,
                                                             clock):
    unassigned = _gallery(client, tokens, clock, None)
    _enrol_manifest(client, tokens, unassigned, photos)
    assert _gate(client, tokens, unassigned, photos["obama2"]).status_code == 403
    board = client.post(f"/v1/gate/{unassigned}/board", headers=auth(tokens["airline_partner"]),
                        data={"gate": "B12"},
                        files={"photo": ("p.jpg", photos["obama2"], "image/jpeg")})
    assert board.status_code == 403 and board.json()["code"] == "lane_not_serving_gallery"
    event = dict(EVENT, lane="lane-1")
    vehicle = client.post("/v1/encounters/vehicle", headers=auth(tokens["lane_device"]),
                          data={"gallery_id": unassigned, "event": json.dumps(event)},
                          files=[("frames", ("ws/0000_0.jpg", photos["obama2"], "image/jpeg"))])
    assert vehicle.status_code == 403 and vehicle.json()["code"] == "lane_not_serving_gallery"
    opt_out = client.post("/v1/encounters/opt-out", headers=auth(tokens["gate_device"]),
                          json={"gallery_id": unassigned, "lane": "gate-7",
                                "direction": "exit", "traveler_id": "T-OBAMA"})
    assert opt_out.status_code == 403
    assert _encounters(app) == 0


def test_an_administrator_assigns_the_lanes_and_the_gate_is_then_served(client, tokens,
                                                                        photos, app, clock):
    g = _gallery(client, tokens, clock, ["gate-1"])
    _enrol_manifest(client, tokens, g, photos)
    assert _gate(client, tokens, g, photos["obama2"]).status_code == 403
    r = client.put(f"/v1/galleries/{g}/lanes", headers=auth(tokens["admin"]),
                   json={"lanes": ["gate-1", "gate-7"]})
    assert r.status_code == 200 and r.json()["lanes"] == ["gate-1", "gate-7"], r.text
    assert "gallery.lanes" in _actions(app)
    ok = _gate(client, tokens, g, photos["obama2"])
    assert ok.status_code == 201, ok.text
    assert _encounters(app) == 1


def test_officers_are_not_bound_to_a_gallerys_lanes(client, tokens, photos, clock):
    # An officer at a booth may record an opt-out at any lane (the inspection is the point).
    g = _gallery(client, tokens, clock, ["gate-1"])
    r = client.post("/v1/encounters/opt-out", headers=auth(tokens["officer"]),
                    json={"gallery_id": g, "lane": "booth-4", "direction": "entry",
                          "traveler_id": "T-OBAMA"})
    assert r.status_code == 201, r.text


def test_bad_lane_lists_are_refused(client, tokens, clock):
    base = {"name": "x", "kind": "crossing",
            "valid_from": (clock.now() - timedelta(hours=1)).isoformat(),
            "valid_until": (clock.now() + timedelta(days=1)).isoformat()}
    for lanes in (["a\x00b"], ["x" * 65], [""], ["l"] * 65, "gate-1"):
        r = client.post("/v1/galleries", headers=auth(tokens["admin"]),
                        json=base | {"lanes": lanes})
        assert r.status_code == 422, (lanes, r.text)
    g = client.post("/v1/galleries", headers=auth(tokens["admin"]), json=base).json()["id"]
    r = client.put(f"/v1/galleries/{g}/lanes", headers=auth(tokens["admin"]),
                   json={"lanes": ["ok"], "extra": 1})
    assert r.status_code == 422
    r = client.put(f"/v1/galleries/{g}/lanes", headers=auth(tokens["officer"]),
                   json={"lanes": ["ok"]})
    assert r.status_code == 403
