"""Small helpers shared by the API tests."""

from __future__ import annotations

ROLES = ("lane_device", "gate_device", "booth_device", "kiosk_device", "mobile_device",
         "officer", "supervisor", "auditor", "airline_partner", "admin")


# The lanes the tests' device and partner keys are issued for (store/keys.py BOUND_ROLES);
# "gate-9" is deliberately absent, for the tests of a key used outside its lanes.
DEVICE_LANES = ("1", "g", "g1", "g2", "l", "other", "gate-1", "gate-3", "gate-7", "lane-1",
                "lane-3", "gate:gate", "gate:B12", "gate:wide", "booth-3", "post-1")
BOUND_ROLES = ("lane_device", "gate_device", "booth_device", "kiosk_device", "mobile_device",
               "airline_partner")


def lanes_for(role: str) -> tuple[str, ...]:
    return DEVICE_LANES if role in BOUND_ROLES else ()


def auth(token: str) -> dict[str, str]:
    return {"X-API-Key": token}


def officer_view(client, tokens, response) -> dict:
    """The whole record of an encounter a device submitted: devices are answered with the
    decision only, so the tests read who matched and how well as an officer does."""
    assert response.status_code in (200, 201), response.text
    r = client.get(f"/v1/encounters/{response.json()['id']}",
                   headers=auth(tokens["officer"]))
    assert r.status_code == 200, r.text
    return r.json()
