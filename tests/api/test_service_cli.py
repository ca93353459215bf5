"""`bordermatch db upgrade | keys create | audit verify | purge` against a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from tests.api.api_helpers import auth
from typer.testing import CliRunner

from bordermatch.cli import app as cli
from bordermatch.store import repo


@pytest.fixture
def env(db_url, tmp_path, blob_keys, monkeypatch):
    monkeypatch.setenv("BORDERMATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("BORDERMATCH_BLOB_DIR", str(tmp_path / "blobs"))
    monkeypatch.setenv("BORDERMATCH_BLOB_KEYS", blob_keys)
    return db_url


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_db_upgrade_and_keys_create_issue_a_working_key(env, app, client):
    from bordermatch.store.db import head_revision

    r = run("db", "upgrade")
    assert r.exit_code == 0 and f"database at revision {head_revision()}" in r.output
    r = run("keys", "create", "--role", "auditor", "--name", "Audrey Auditor")
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert client.get("/v1/audit", headers=auth(token)).status_code == 200
    assert client.get("/v1/galleries", headers=auth(token)).status_code == 403
    assert run("keys", "create", "--role", "root", "--name", "x").exit_code == 2


def test_a_device_key_is_issued_for_its_lanes(env, app, client):
    assert run("db", "upgrade").exit_code == 0
    unbound = run("keys", "create", "--role", "gate_device", "--name", "gate B12")
    assert unbound.exit_code == 2 and "--lane" in unbound.output
    r = run("keys", "create", "--role", "gate_device", "--name", "gate B12",
            "--lane", "gate-B12", "--lane", "gate-B14")
    assert r.exit_code == 0, r.output
    listed = run("keys", "list")
    assert "gate-B12,gate-B14" in listed.output
    # Booths and kiosks sit in one place too.
    for role in ("booth_device", "kiosk_device"):
        assert run("keys", "create", "--role", role, "--name", "booth 3").exit_code == 2
        r = run("keys", "create", "--role", role, "--name", "booth 3", "--lane", "booth-3")
        assert r.exit_code == 0, r.output
    assert "booth_device\tbooth 3\tbooth-3" in run("keys", "list").output


def test_audit_verify_detects_tampering(env, sessions, admin, clock):
    with sessions.begin() as s:
        repo.create_gallery(s, admin, clock.now(), "g", "crossing", clock.now(),
                            clock.now() + timedelta(days=1))
        repo.add_enrolment(s, admin, clock.now(), repo.get_gallery(s, s.execute(
            text("SELECT id FROM galleries")).scalar()),
            repo.Biographics("T1", "A", "B", "P", "1", "USA", True), None, None, None, None,
            None)
    r = run("audit", "verify")
    assert r.exit_code == 0 and "ok: 2 entries" in r.output, r.output
    with sessions.begin() as s:  # someone hides that T1's record was written
        s.execute(text("UPDATE audit_log SET resource_id = 'T2' WHERE seq = 2"))
    r = run("audit", "verify")
    assert r.exit_code == 1 and "TAMPERED: entry 2" in r.output


def test_purge_command_deletes_expired_biometrics(env, sessions, blobs, admin, clock):
    # The manual clock stands in 2026-01; records written then expired long before "now".
    photo = blobs.put(b"img", kind="image")
    with sessions.begin() as s:
        g = repo.create_gallery(s, admin, clock.now(), "g", "crossing", clock.now(),
                                clock.now() + timedelta(days=1))
        repo.add_enrolment(s, admin, clock.now(), g,
                           repo.Biographics("T1", "A", "B", "P", "1", "USA", True), photo,
                           None, None, None, clock.now() + timedelta(hours=12))
    r = run("purge")
    assert r.exit_code == 0, r.output
    assert ("purged 1 enrolments, 0 occupants, 0 document reads and 0 fingerprint probes"
            in r.output)
    assert not blobs.exists(photo)


def test_watchlist_add_acts_for_a_supervisor_key_and_is_audited(env, app, client, tokens,
                                                                 shared_data):
    """`bordermatch watchlist add`: the same enrolment and audit entry as the API route, under
    the name of the supervisor whose key is given; other keys are refused."""
    pytest.importorskip("nbis")
    upek = shared_data / "fingerprints" / "upek"
    if not (upek / "1_1.png").is_file():
        pytest.skip("fingerprint data not found")
    from sqlalchemy import select

    from bordermatch.store.tables import AuditEvent, WatchlistFinger

    args = ("watchlist", "add", "W-CLI", "--reference", "case 7", "--finger",
            f"right_index={upek / '1_1.png'}", "--finger", f"3={upek / '2_1.png'}", "--json")
    refused = run(*args, "--key", tokens["officer"])
    assert refused.exit_code == 2 and '"error":"forbidden"' in refused.stdout
    r = run(*args, "--key", tokens["supervisor"])
    assert r.exit_code == 0, r.output
    assert '"subject_id":"W-CLI"' in r.stdout and '"position":2' in r.stdout
    with app.state.service.sessions() as s:
        assert len(list(s.scalars(select(WatchlistFinger)))) == 2
        entry = s.scalars(select(AuditEvent).where(AuditEvent.action == "watchlist.enrol")).one()
    assert entry.role == "supervisor" and entry.actor.startswith("test supervisor")
    missing = run("watchlist", "add", "W-2", "--reference", "x", "--finger",
                  "2=/nonexistent.png", "--key", tokens["supervisor"])
    assert missing.exit_code == 4 and "nonexistent.png" in missing.output
