"""Every route that reads or writes biometric data or PII leaves its audit entry, naming the
caller; routes that touch neither (gallery list, health) leave none."""

from __future__ import annotations

from sqlalchemy import select
from tests.api.api_helpers import auth

from bordermatch.store.tables import AuditEvent


def _entries(app) -> list[AuditEvent]:
    with app.state.service.sessions() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_each_pii_route_is_audited(client, tokens, gallery, photos, app):
    def call(expect_action, expect_role, method, url, **kw):
        before = len(_entries(app))
        r = client.request(method, url, **kw)
        assert r.status_code < 300, (url, r.text)
        new = _entries(app)[before:]
        assert [e.action for e in new] == [expect_action], (url, [e.action for e in new])
        assert new[0].role == expect_role and new[0].actor.startswith(f"test {expect_role}")
        return r.json()

    officer, gate = auth(tokens["officer"]), auth(tokens["gate_device"])
    bio = {"given_names": "G", "surname": "S", "document_type": "P", "document_number": "1",
           "nationality": "USA", "citizen": "true"}
    call("enrolment.create", "officer", "POST", f"/v1/galleries/{gallery}/travelers",
         headers=officer, data=bio | {"traveler_id": "T1"},
         files={"photo": ("p.jpg", photos["obama"], "image/jpeg")})
    enc = call("encounter.gate", "gate_device", "POST", "/v1/encounters/gate", headers=gate,
               data={"gallery_id": gallery, "lane": "l", "direction": "exit"},
               files={"photo": ("p.jpg", photos["obama2"], "image/jpeg")})
    call("encounter.read", "officer", "GET", f"/v1/encounters/{enc['id']}", headers=officer)
    call("crossings.read", "officer", "GET", "/v1/travelers/T1/crossings", headers=officer)
    call("verify.1to1", "gate_device", "POST", "/v1/verify", headers=gate,
         files={"live": ("a.jpg", photos["obama2"], "image/jpeg"),
                "document": ("b.jpg", photos["obama"], "image/jpeg")})
    call("encounter.board", "airline_partner", "POST", f"/v1/gate/{gallery}/board",
         headers=auth(tokens["airline_partner"]),
         files={"photo": ("p.jpg", photos["obama2"], "image/jpeg")})
    call("encounter.opt_out", "gate_device", "POST", "/v1/encounters/opt-out", headers=gate,
         json={"gallery_id": gallery, "lane": "l", "direction": "entry", "traveler_id": "T1"})
    queue = call("review.list", "officer", "GET", "/v1/review", headers=officer)
    call("review.adjudicate", "officer", "POST", f"/v1/review/{queue[0]['id']}/decision",
         headers=officer, json={"decision": "accept", "reason": "inspected"})
    call("audit.read", "auditor", "GET", "/v1/audit", headers=auth(tokens["auditor"]))

    before = len(_entries(app))
    assert client.get("/v1/galleries", headers=officer).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert len(_entries(app)) == before
