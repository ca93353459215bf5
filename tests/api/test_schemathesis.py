"""Fuzz every operation of the OpenAPI schema (schemathesis): no request may cause a 5xx.

Each operation is called with a valid key of a role allowed to use it, so the generated
inputs reach the route's own validation and the store, rather than stopping at 401/403.
Bounded (``BM_FUZZ_EXAMPLES`` per operation, derandomised so CI runs are repeatable) and run
on both databases.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from tests.api.api_helpers import auth

EXAMPLES = int(os.environ.get("BM_FUZZ_EXAMPLES", "25"))

# The least surprising role that may call each operation (see api/auth.py).
ROLE_FOR = {
    ("POST", "/v1/galleries/{gallery_id}/travelers"): "officer",
    ("POST", "/v1/encounters/gate"): "gate_device",
    ("POST", "/v1/encounters/opt-out"): "gate_device",
    ("POST", "/v1/encounters/vehicle"): "lane_device",
    ("GET", "/v1/encounters/{encounter_id}"): "officer",
    ("POST", "/v1/verify"): "officer",
    ("POST", "/v1/documents/verify"): "booth_device",
    ("GET", "/v1/travelers/{traveler_id}/crossings"): "officer",
    ("GET", "/v1/review"): "supervisor",
    ("POST", "/v1/review/{item_id}/decision"): "supervisor",
    ("GET", "/v1/audit"): "auditor",
    ("GET", "/v1/audit/verify"): "auditor",
    ("POST", "/v1/gate/{gallery_id}/board"): "airline_partner",
    ("POST", "/v1/fingerprints/search"): "mobile_device",
    ("POST", "/v1/watchlist/subjects"): "supervisor",
}


def role_for(method: str, path: str) -> str:
    return ROLE_FOR.get((method.upper(), path), "admin")


def _seed(client, tokens, gallery) -> dict[str, str]:
    """Real records, so that generated requests also reach past "no such id"."""
    form = {"traveler_id": "T-FUZZ", "given_names": "F", "surname": "Z", "document_type": "P",
            "document_number": "F1", "nationality": "USA", "citizen": "true", "opt_out": "true"}
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data=form)
    assert r.status_code == 201, r.text
    r = client.post("/v1/encounters/opt-out", headers=auth(tokens["gate_device"]),
                    json={"gallery_id": gallery, "lane": "g1", "direction": "entry",
                          "traveler_id": "T-FUZZ"})
    assert r.status_code == 201, r.text
    item = client.get("/v1/review", headers=auth(tokens["officer"])).json()[0]["id"]
    # "post-1" is a lane every device key of the tests is bound to (api_helpers.DEVICE_LANES),
    # so handheld searches get past the lane check to the decoding of the fingers.
    return {"gallery_id": gallery, "traveler_id": "T-FUZZ", "encounter_id": r.json()["id"],
            "item_id": item, "lane": "post-1"}


def _with_real_ids(case, real: dict[str, str]) -> None:
    for name, value in real.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = value


def test_no_server_errors(app, client, tokens, gallery):
    """One Hypothesis run per operation; every failure is reported, not only the first."""
    real = _seed(client, tokens, gallery)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # the whole /v1 surface, not an empty schema

    for operation in operations:
        try:
            _fuzz(operation, auth(tokens[role_for(operation.method, operation.path)]), real)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def _fuzz(operation, headers: dict[str, str], real: dict[str, str]) -> None:
    @given(case=operation.as_strategy(), use_real_ids=st.booleans())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate],
              verbosity=Verbosity.quiet)
    def call(case, use_real_ids):
        if use_real_ids:
            _with_real_ids(case, real)
        response = case.call(headers=headers)
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        assert response.status_code < 500, (
            f"{where}: {response.text[:300]}\n{case.as_curl_command()}")
        if response.status_code >= 400:
            # Every refusal is a problem document, not an HTML page or a bare string.
            ctype = response.headers.get("content-type", [""])[0]
            assert ctype.startswith("application/problem+json"), f"{where}: {ctype}"

    call()
