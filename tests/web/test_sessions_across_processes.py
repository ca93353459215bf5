"""Issue 13: two ``bordermatch serve`` processes on one database serve the review pages to an
officer whose requests alternate between them, as a load balancer without sticky sessions
sends them. Sign-in form, sign-in, pages, a form post and sign-out each land on the other
process from the one before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.api.serve_helpers import Server, free_port
from tests.web.web_helpers import csrf_of

from bordermatch.web.sessions import COOKIE


@pytest.fixture
def two_servers(app, settings, blob_keys, tmp_path: Path):
    """Two API processes sharing ``app``'s database and blob store (and nothing else)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORDERMATCH_")}
    env.update({
        "BORDERMATCH_DATABASE_URL": settings.database_url,
        "BORDERMATCH_BLOB_DIR": str(settings.blob_dir),
        "BORDERMATCH_BLOB_KEYS": blob_keys,
        "BORDERMATCH_MATCHER": "sface",
        "BORDERMATCH_RUN_MIGRATIONS": "false",
        "BORDERMATCH_RUN_PURGE_SCHEDULER": "false",
        "OMP_NUM_THREADS": "1",
    })
    servers = [Server(tmp_path, env, free_port(), name=f"api{k}") for k in range(2)]
    try:
        for s in servers:
            s.launch()
        for s in servers:
            s.wait_healthy()
        yield servers
    finally:
        for s in servers:
            s.stop()


def test_an_officer_alternating_between_two_api_processes_stays_signed_in(two_servers,
                                                                          tokens):
    import httpx

    a, b = (s.url for s in two_servers)
    assert two_servers[0].proc.pid != two_servers[1].proc.pid
    # One cookie jar, as one browser: cookies are per host, not per port.
    with httpx.Client(timeout=60, follow_redirects=False) as browser:
        form = browser.get(f"{b}/review/login")
        signed = browser.post(f"{a}/review/login", data={"api_key": tokens["officer"],
                                                         "csrf": csrf_of(form.text)})
        assert signed.status_code == 303, signed.text
        assert browser.cookies.get(COOKIE)
        queue = browser.get(f"{b}/review")
        assert queue.status_code == 200 and "Review queue" in queue.text
        assert "test officer" in queue.text
        reports = browser.get(f"{a}/review/reports")
        assert reports.status_code == 200
        # A form of one process posted to the other: the CSRF token is the session's.
        out = browser.post(f"{a}/review/logout", data={"csrf": csrf_of(queue.text)})
        assert out.status_code == 303
        after = browser.get(f"{b}/review")
        assert after.status_code == 303 and after.headers["location"].endswith("/login")
