"""Every /v1 route: 401 without a valid key, 403 for a role that may not use it."""

from __future__ import annotations

import re

import pytest
from tests.api.api_helpers import ROLES, auth


@pytest.fixture
def settings(settings):
    # The matrix below sends ~70 bad keys from the one test client address; the lockout
    # that would follow has its own tests (test_auth_failures.py).
    return settings.model_copy(update={"auth_failure_limit": 10_000})

# Which roles each route admits. A route missing here fails the completeness test.
ALLOWED = {
    ("POST", "/v1/galleries"): {"admin", "supervisor"},
    ("GET", "/v1/galleries"): {"admin", "supervisor", "officer"},
    ("GET", "/v1/galleries/{gallery_id}"): {"admin", "supervisor", "officer"},
    ("POST", "/v1/galleries/{gallery_id}/close"): {"admin", "supervisor"},
    ("PUT", "/v1/galleries/{gallery_id}/lanes"): {"admin", "supervisor"},
    ("POST", "/v1/galleries/{gallery_id}/travelers"): {"admin", "supervisor", "officer"},
    ("POST", "/v1/galleries/{gallery_id}/manifest"): {"admin", "supervisor"},
    ("POST", "/v1/galleries/{gallery_id}/travelers/{traveler_id}/references"):
        {"admin", "supervisor", "officer"},
    ("PATCH", "/v1/travelers/{traveler_id}"): {"supervisor"},
    ("POST", "/v1/encounters/gate"): {"gate_device"},
    ("POST", "/v1/encounters/opt-out"): {"gate_device", "lane_device", "officer"},
    ("POST", "/v1/encounters/vehicle"): {"lane_device"},
    ("GET", "/v1/encounters/{encounter_id}"): {"officer", "supervisor"},
    ("POST", "/v1/verify"): {"gate_device", "officer"},
    ("POST", "/v1/documents/verify"): {"booth_device", "kiosk_device"},
    ("GET", "/v1/travelers/{traveler_id}/crossings"): {"officer", "supervisor"},
    ("GET", "/v1/review"): {"officer", "supervisor"},
    ("POST", "/v1/review/{item_id}/decision"): {"officer", "supervisor"},
    ("GET", "/v1/audit"): {"auditor"},
    ("GET", "/v1/audit/verify"): {"auditor"},
    ("POST", "/v1/gate/{gallery_id}/board"): {"airline_partner"},
    ("GET", "/v1/metrics"): {"admin", "supervisor"},
    ("POST", "/v1/fingerprints/search"): {"mobile_device"},
    ("POST", "/v1/watchlist/subjects"): {"supervisor"},
}


def _v1_routes(app):
    for path, ops in app.openapi()["paths"].items():
        if path.startswith("/v1"):
            for method in ops:
                yield method.upper(), path


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)


def test_every_v1_route_has_a_role_policy(app):
    assert set(_v1_routes(app)) == set(ALLOWED)


def test_no_key_or_bad_key_is_401(client, tokens, app):
    bad = [{}, {"X-API-Key": "nonsense"}, {"X-API-Key": tokens["admin"] + "x"},
           {"Authorization": "Bearer bmk_0000_forged"}, {"Authorization": "Basic Zm9vOmJhcg=="}]
    for method, path in _v1_routes(app):
        for headers in bad:
            r = client.request(method, _url(path), headers=headers)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert "www-authenticate" in r.headers


def test_wrong_role_is_403_and_right_role_passes_auth(client, tokens, app):
    for (method, path), allowed in ALLOWED.items():
        for role in ROLES:
            r = client.request(method, _url(path), headers=auth(tokens[role]))
            assert r.status_code < 500, (method, path, role, r.text)
            if role in allowed:
                assert r.status_code not in (401, 403), (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.text)
                assert r.json()["code"] == "forbidden"


def test_bearer_token_works_like_the_header(client, tokens):
    r = client.get("/v1/galleries", headers={"Authorization": f"Bearer {tokens['officer']}"})
    assert r.status_code == 200


def test_revoked_key_is_401(client, tokens, app, clock):
    from bordermatch.store import keys

    key_id = tokens["officer"][len(keys.PREFIX):].split("_", 1)[0]
    with app.state.service.sessions.begin() as s:
        keys.revoke(s, clock, key_id)
    assert client.get("/v1/galleries", headers=auth(tokens["officer"])).status_code == 401


def test_health_openapi_and_metrics_need_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    schema = client.get("/openapi.json").json()
    assert "/v1/encounters/gate" in schema["paths"]
    assert client.get("/metrics").status_code == 200
