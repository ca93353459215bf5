"""Review-page sessions live in the database: shared by workers, hashed, expiring."""

from __future__ import annotations

from sqlalchemy import select
from tests.web.web_helpers import csrf_of, sign_in

from bordermatch.store.tables import WebSession


def _rows(app) -> list[WebSession]:
    with app.state.service.sessions() as s:
        return list(s.scalars(select(WebSession)))


def test_two_app_instances_on_one_database_share_a_session(app, client, tokens, settings,
                                                            clock, blobs):
    """A second worker (its own app, engine pool and memory) honours the first's cookie."""
    from fastapi.testclient import TestClient

    from bordermatch.api.app import create_app

    other = create_app(settings, clock=clock, blobs=blobs)
    assert other is not app and other.state.web_sessions is not app.state.web_sessions
    queue = sign_in(client, tokens["officer"])
    assert queue.status_code == 200
    cookie = client.cookies["bm_review_session"]
    with TestClient(other, raise_server_exceptions=False) as second:
        second.cookies.set("bm_review_session", cookie, path="/review")
        page = second.get("/review", follow_redirects=False)
        assert page.status_code == 200 and "Review queue" in page.text
        assert "test officer" in page.text
        # Sign out on the second worker: the first one no longer knows the session either.
        out = second.post("/review/logout", data={"csrf": csrf_of(page.text)},
                          follow_redirects=False)
        assert out.status_code == 303
    assert _rows(app) == []
    assert client.get("/review", follow_redirects=False).status_code == 303


def test_only_a_hash_of_the_token_is_stored(app, client, tokens):
    sign_in(client, tokens["officer"])
    token = client.cookies["bm_review_session"]
    (row,) = _rows(app)
    assert row.token_hash != token and len(row.token_hash) == 64
    stored = " ".join(str(v) for v in vars(row).values())
    assert token not in stored and tokens["officer"] not in stored
    assert row.key_id == tokens["officer"].split("_")[1]


def test_sessions_expire_when_idle_and_at_their_lifetime(app, client, tokens, clock):
    sign_in(client, tokens["officer"])
    clock.advance(minutes=29)
    assert client.get("/review", follow_redirects=False).status_code == 200
    clock.advance(minutes=29)  # seen 29 minutes ago: still inside the idle timeout
    assert client.get("/review", follow_redirects=False).status_code == 200
    clock.advance(minutes=31)
    r = client.get("/review", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review/login"
    assert _rows(app) == []  # the expired row went with the refusal

    sign_in(client, tokens["officer"])
    for _ in range(17):  # active all day, but 8 hours is the most one sign-in lasts
        clock.advance(minutes=29)
        last = client.get("/review", follow_redirects=False).status_code
    assert last == 303


def test_a_forged_or_unknown_cookie_is_refused(client, tokens):
    client.cookies.set("bm_review_session", "not-a-session", path="/review")
    assert client.get("/review", follow_redirects=False).status_code == 303
    client.cookies.set("bm_review_session", "x" * 5000, path="/review")
    assert client.get("/review", follow_redirects=False).status_code == 303
