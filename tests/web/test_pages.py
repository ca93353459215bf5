"""Officer review pages through the ASGI app: sign-in, roles, CSRF, decisions, audit."""

from __future__ import annotations

from tests.api.api_helpers import auth
from tests.web.web_helpers import csrf_of, manual_inspection_item, sign_in


def _audit(client, tokens, action: str) -> list[dict]:
    r = client.get("/v1/audit", headers=auth(tokens["auditor"]), params={"action": action})
    assert r.status_code == 200, r.text
    return r.json()


def test_pages_need_sign_in(client):
    for path in ("/review", "/review/items/x", "/review/items/x/photos/traveler"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/review/login", path
    r = client.post("/review/items/x/decision", data={"decision": "accept", "reason": "r"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/login"


def test_sign_in_checks_csrf_key_and_role(client, tokens):
    page = client.get("/review/login")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    no_csrf = client.post("/review/login", data={"api_key": tokens["officer"], "csrf": "x"})
    assert no_csrf.status_code == 403 and "bm_review_session" not in client.cookies
    bad_key = sign_in(client, "bmk_nope_nope")
    assert bad_key.status_code == 401 and "not valid" in bad_key.text
    for role in ("admin", "gate_device", "airline_partner"):
        r = sign_in(client, tokens[role])
        assert r.status_code == 403, role
        assert "bm_review_session" not in client.cookies
    r = client.post("/review/login", follow_redirects=False,
                    data={"api_key": tokens["auditor"],
                          "csrf": csrf_of(client.get("/review/login").text)})
    assert r.status_code == 303 and r.headers["location"] == "/review/reports"
    assert client.get("/review", follow_redirects=False).headers["location"] \
        == "/review/reports"  # the review queue is not an auditor's page
    client.cookies.clear()
    r = client.post("/review/login", follow_redirects=False,
                    data={"api_key": tokens["officer"],
                          "csrf": csrf_of(client.get("/review/login").text)})
    assert r.status_code == 303 and r.headers["location"] == "/review"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/review" in cookie
    assert tokens["officer"] not in r.headers["set-cookie"]  # the key stays on the server


def test_officer_adjudicates_manual_inspection(client, tokens, gallery):
    item = manual_inspection_item(client, tokens, gallery)
    queue = sign_in(client, tokens["officer"])
    assert queue.status_code == 200 and item in queue.text and "Manual inspection" in queue.text
    page = client.get(f"/review/items/{item}")
    assert page.status_code == 200 and "Pat Optout" in page.text
    csrf = csrf_of(page.text)

    forged = client.post(f"/review/items/{item}/decision",
                         data={"decision": "accept", "reason": "ok", "csrf": "forged"})
    assert forged.status_code == 403
    cross_site = client.post(f"/review/items/{item}/decision",
                             headers={"Origin": "https://evil.example"},
                             data={"decision": "accept", "reason": "ok", "csrf": csrf})
    assert cross_site.status_code == 403
    blank = client.post(f"/review/items/{item}/decision",
                        data={"decision": "accept", "reason": "   ", "csrf": csrf})
    assert blank.status_code == 422
    assert _review_status(client, tokens, item) == "open"  # refusals changed nothing

    done = client.post(f"/review/items/{item}/decision", follow_redirects=False,
                       data={"decision": "accept", "reason": "passport checked", "csrf": csrf})
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert f'data-item="{item}"' not in after.text and "Decision recorded" in after.text
    assert _review_status(client, tokens, item) == "accepted"
    entries = [e for e in _audit(client, tokens, "review.adjudicate") if e["resource_id"] == item]
    assert len(entries) == 1
    assert entries[0]["actor"].startswith("test officer") and entries[0]["role"] == "officer"
    assert entries[0]["detail"]["reason"] == "passport checked"
    crossings = client.get("/v1/travelers/T-OPT/crossings", headers=auth(tokens["officer"]),
                           params={"include_manual": "true"}).json()
    assert [c["method"] for c in crossings] == ["manual_inspection"]

    again = client.post(f"/review/items/{item}/decision",
                        data={"decision": "reject", "reason": "late", "csrf": csrf})
    assert again.status_code == 409 and _review_status(client, tokens, item) == "accepted"


def _review_status(client, tokens, item: str) -> str:
    for status in ("open", "accepted", "rejected"):
        rows = client.get("/v1/review", headers=auth(tokens["supervisor"]),
                          params={"status": status}).json()
        if any(r["id"] == item for r in rows):
            return status
    raise AssertionError(f"review item {item} is gone")


def test_revoked_key_ends_the_session(client, tokens, gallery, app, clock):
    from bordermatch.store import keys

    assert sign_in(client, tokens["supervisor"]).status_code == 200
    key_id = tokens["supervisor"].split("_")[1]
    with app.state.service.sessions.begin() as s:
        keys.revoke(s, clock, key_id)
    r = client.get("/review", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/login"


def test_sign_out_needs_csrf_and_ends_the_session(client, tokens):
    queue = sign_in(client, tokens["officer"])
    assert client.post("/review/logout", data={"csrf": "x"}).status_code == 403
    assert client.get("/review").status_code == 200
    out = client.post("/review/logout", data={"csrf": csrf_of(queue.text)},
                      follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/review", follow_redirects=False).status_code == 303


def test_an_auditor_signs_out_too(client, tokens):
    reports = sign_in(client, tokens["auditor"])
    assert reports.status_code == 200 and str(reports.url).endswith("/review/reports")
    out = client.post("/review/logout", data={"csrf": csrf_of(reports.text)},
                      follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/review/login"
    r = client.get("/review/reports", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/login"


def test_unknown_item_is_404_page(client, tokens):
    sign_in(client, tokens["officer"])
    r = client.get("/review/items/no-such-item")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert client.get("/review?kind=bogus").status_code == 404
