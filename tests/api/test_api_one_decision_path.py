"""One face, one answer: a gate photo and a one-frame vehicle event of the same face against
the same gallery get the same decision and reason (DESIGN.md convention 8)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from tests.api.api_helpers import auth, officer_view


def _astronaut() -> bytes:
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _enrol(client, tokens, gallery, tid, photo):
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data={"traveler_id": tid, "given_names": "G", "surname": "S",
                          "document_type": "P", "document_number": tid, "nationality": "USA",
                          "citizen": "false"}, files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    return r.json()


def _gate(client, tokens, gallery, photo):
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": "gate-1", "direction": "entry"},
                    files={"photo": ("p.jpg", photo, "image/jpeg")})
    return [(o["traveler_id"], o["decision"], o["reason"])
            for o in officer_view(client, tokens, r)["occupants"]]


def _vehicle(client, tokens, gallery, photo, event_id):
    # The photo as the one frame of a side camera: no windshield pass, nothing but the face.
    event = {"event_id": event_id, "lane": "lane-1", "direction": "entry",
             "started_at": "2026-01-01T08:00:00+00:00",
             "cameras": [{"id": "side", "view": "side-left"}]}
    r = client.post("/v1/encounters/vehicle", headers=auth(tokens["lane_device"]),
                    data={"gallery_id": gallery, "event": json.dumps(event)},
                    files=[("frames", ("side/0000_0.jpg", photo, "image/jpeg"))])
    return [(o["traveler_id"], o["decision"], o["reason"])
            for o in officer_view(client, tokens, r)["occupants"]]


@pytest.mark.slow
def test_gate_and_vehicle_give_one_answer(client, tokens, gallery, photos):
    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    _enrol(client, tokens, gallery, "T-BIDEN", photos["biden"])
    clear = _gate(client, tokens, gallery, photos["biden2"])
    assert clear == [("T-BIDEN", "match", "above_threshold")]
    assert _vehicle(client, tokens, gallery, photos["biden2"], "v-clear") == clear
    stranger = _gate(client, tokens, gallery, _astronaut())
    assert stranger == [(None, "no_match", "below_threshold")]
    assert _vehicle(client, tokens, gallery, _astronaut(), "v-stranger") == stranger


@pytest.mark.slow
def test_an_unflagged_second_identity_holds_both_paths(client, tokens, gallery, photos):
    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    second = _enrol(client, tokens, gallery, "T-OBAMA-2", photos["obama2"])
    # An officer closed the alert, so nothing flags the pair any more; the face still fits
    # both identities, and the runner-up rule sends it to review at the gate and in a lane.
    for item in second["alias_alerts"]:
        r = client.post(f"/v1/review/{item}/decision", headers=auth(tokens["supervisor"]),
                        json={"decision": "reject", "reason": "not the same person"})
        assert r.status_code == 200, r.text
    open_alias = client.get("/v1/review", headers=auth(tokens["officer"]),
                            params={"kind": "alias"}).json()
    assert open_alias == []
    gate = _gate(client, tokens, gallery, photos["obama"])
    assert [(d, why) for _, d, why in gate] == [("review", "runner_up")]
    assert gate[0][0] in ("T-OBAMA", "T-OBAMA-2")
    assert _vehicle(client, tokens, gallery, photos["obama"], "v-twin") == gate
