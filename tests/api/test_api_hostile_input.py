"""Inputs that databases refuse (NUL bytes, lone surrogates, overlong or extreme values)
are 4xx problems, never 500 — the cases a schema fuzzer finds first."""

from __future__ import annotations

import json

from tests.api.api_helpers import auth


def _no_500(r):
    assert r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json" or r.status_code < 300


def test_hostile_strings_and_dates(client, tokens, gallery):
    admin = auth(tokens["admin"]) | {"content-type": "application/json"}
    for name in ("nul\u0000byte", "\ud800", "x" * 5000):
        body = json.dumps({"name": name, "kind": "crossing",
                           "valid_from": "2026-01-01T00:00:00Z",
                           "valid_until": "2026-01-02T00:00:00Z"})
        _no_500(client.post("/v1/galleries", headers=admin, content=body))
    for ts in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        body = json.dumps({"name": "x", "kind": "crossing", "valid_from": ts,
                           "valid_until": "9999-12-31T23:59:59+00:00"})
        _no_500(client.post("/v1/galleries", headers=admin, content=body))
    officer = auth(tokens["officer"])
    for bad in ("%00", "a%00b", "%ED%A0%80", "x" * 3000):
        _no_500(client.get(f"/v1/galleries/{bad}", headers=officer))
        _no_500(client.get(f"/v1/encounters/{bad}", headers=officer))
        _no_500(client.get(f"/v1/travelers/{bad}/crossings", headers=officer))
    _no_500(client.get("/v1/audit?action=%00&resource_id=%00",
                       headers=auth(tokens["auditor"])))
    _no_500(client.get("/v1/audit?after_seq=4611686018427387904",
                       headers=auth(tokens["auditor"])))
    r = client.post("/v1/encounters/opt-out", headers=auth(tokens["gate_device"]),
                    json={"gallery_id": gallery, "lane": "l\u0000", "direction": "entry",
                          "traveler_id": "\u0000"})
    _no_500(r)
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=officer, data={
        "traveler_id": "T\u0000", "given_names": "G", "surname": "S", "document_type": "P",
        "document_number": "1", "nationality": "USA", "citizen": "true", "opt_out": "true"})
    _no_500(r)
    manifest = ("traveler_id,given_names,surname,document_type,document_number,nationality,"
                "citizen,photo,opt_out\nT1," + "G" * 500 + ",S,P,1,USA,true,p.jpg,true\n")
    r = client.post(f"/v1/galleries/{gallery}/manifest", headers=auth(tokens["admin"]),
                    files={"manifest": ("m.csv", manifest.encode(), "text/csv")})
    _no_500(r)
    # The shared manifest reader's reason (gallery.manifest), as `gallery build` reports it.
    assert r.status_code == 200 and r.json()["rows"][0]["error"] == "bad_row"
    assert "longer than 200" in r.json()["rows"][0]["detail"]
