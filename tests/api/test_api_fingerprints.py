"""Handheld fingerprint searches end to end, on SQLite and PostgreSQL: a supervisor enrols
the watchlist (audited), a mobile device searches it (hit -> a review item with both prints,
no_hit, recapture), citizens' probes go within 12 hours, and other roles are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.api.api_helpers import auth
from tests.api.fp_api_helpers import POST, enrol_subject, poor_print, search, upek
from tests.web.web_helpers import sign_in

from bordermatch.store.tables import (
    AuditEvent,
    FingerprintProbe,
    FingerprintSearch,
    ReviewItem,
    WatchlistFinger,
)

PRINT = re.compile(r'/photos/((fpp|fpe)-[0-9a-f-]{36})"')


def _prints(html: str) -> dict[str, list[str]]:
    """The print ids an item page loads: "fpp" (taken on the handheld), "fpe" (enrolled)."""
    out: dict[str, list[str]] = {"fpp": [], "fpe": []}
    for pid, kind in dict.fromkeys(PRINT.findall(html)):
        out[kind].append(pid)
    return out


@pytest.fixture
def fp(shared_data: Path) -> Path:
    path = shared_data / "fingerprints"
    if not (path / "upek" / "1_1.png").is_file():
        pytest.skip(f"fingerprint data not found under {path}")
    try:
        pytest.importorskip("nbis")
    except OSError as exc:
        pytest.skip(f"nbis does not load: {exc}")
    return path


@pytest.fixture
def watchlist(client, tokens, fp) -> str:
    """Subject W-1: UPEK fingers 1 and 2 (impression 1) as right index and right middle;
    W-2: fingers 5 and 6."""
    for sid, (a, b) in (("W-1", (1, 2)), ("W-2", (5, 6))):
        r = enrol_subject(client, tokens["supervisor"], sid, [upek(fp, a, 1), upek(fp, b, 1)],
                          "2,3")
        assert r.status_code == 201, r.text
    return "W-1"


def _rows(app, table):
    with app.state.service.sessions() as s:
        return list(s.scalars(select(table)))


def _actions(app) -> list[str]:
    return [a.action for a in _rows(app, AuditEvent)]


def test_supervisor_enrolment_is_audited_and_encrypted(app, client, tokens, watchlist, blobs):
    entries = [a for a in _rows(app, AuditEvent) if a.action == "watchlist.enrol"]
    assert [(a.resource_id, a.role, a.detail["positions"]) for a in entries] == [
        ("W-1", "supervisor", [2, 3]), ("W-2", "supervisor", [2, 3])]
    fingers = _rows(app, WatchlistFinger)
    assert len(fingers) == 4
    for f in fingers:
        raw = (blobs.root / f.template_blob[:2] / f.template_blob).read_bytes()
        assert b"FMR\x00" not in raw  # only the decrypted blob is an ISO record
        assert blobs.get(f.template_blob, kind="template").startswith(b"FMR\x00 20\x00")


def test_officer_and_admin_may_not_enrol(app, client, tokens, fp):
    for role in ("officer", "admin", "mobile_device"):
        r = enrol_subject(client, tokens[role], "W-X", [upek(fp, 1, 1)], "2")
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    assert _rows(app, WatchlistFinger) == []
    assert "watchlist.enrol" not in _actions(app)


def test_handheld_hit_creates_a_review_item_with_both_prints(app, client, tokens, fp,
                                                            watchlist):
    r = search(client, tokens["mobile_device"], [upek(fp, 1, 2), upek(fp, 2, 2)], "2,3")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["decision"] == "hit" and body["recapture"] == []
    # The device learns the decision and the qualities, not who or how well.
    assert set(body) == {"id", "decision", "lane", "created_at", "fingers", "min_quality",
                         "recapture"}
    assert "W-1" not in r.text
    [item] = client.get("/v1/review", headers=auth(tokens["officer"]),
                        params={"kind": "fingerprint_hit"}).json()
    [found] = _rows(app, FingerprintSearch)
    assert (found.decision, found.subject_id, found.lane) == ("hit", "W-1", POST)
    assert item["score"] == found.score and found.score >= found.threshold
    # The item keeps the decision as the one decision path stated it.
    [row] = _rows(app, ReviewItem)
    assert row.basis == {"reason": "fingerprint_hit", "score": found.score,
                         "threshold": found.threshold, "rate": "FPIR", "target": 1e-3,
                         "source": "watchlist"}
    # The officer's page: the subject and its case reference, the fused and per-finger
    # scores, each probe print beside the enrolled print of the finger it matched.
    assert sign_in(client, tokens["officer"]).status_code == 200
    page = client.get(f"/review/items/{item['id']}")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-reason="fingerprint_hit"' in html and 'data-watchlist="W-1"' in html
    assert 'data-fact="reference">case W-1<' in html and f">{POST}<" in html
    assert f'data-fact="score">{found.score:g}<' in html and "FPIR 0.001" in html
    assert (f"fused Bozorth3 score {found.score:g} reached the threshold "
            f"{found.threshold:g}") in html
    assert "false match rate" not in html  # a face calibration says nothing of prints
    probes = sorted(_rows(app, FingerprintProbe), key=lambda p: p.finger)
    for p in probes:
        assert f'data-finger-score="{p.finger + 1}">{p.score:g}<' in html
    prints = _prints(html)
    assert len(prints["fpp"]) == 2 and len(prints["fpe"]) == 2
    assert prints["fpp"] == [f"fpp-{p.id}" for p in probes]
    for pid in prints["fpp"] + prints["fpe"]:
        img = client.get(f"/review/items/{item['id']}/photos/{pid}")
        assert img.status_code == 200 and img.content.startswith(b"\x89PNG"), pid
    # Only this item's prints: another subject's enrolled finger is not reachable here.
    other = next(f for f in _rows(app, WatchlistFinger) if f.subject_id == "W-2")
    assert client.get(f"/review/items/{item['id']}/photos/fpe-{other.id}").status_code == 404
    reads = [a for a in _rows(app, AuditEvent) if a.action == "review.read"]
    assert reads[-1].detail["watchlist_subject"] == "W-1"
    assert sorted(reads[-1].detail["photos"]) == sorted(prints["fpp"] + prints["fpe"])
    photos = [a.detail["photo"] for a in _rows(app, AuditEvent) if a.action == "review.photo"]
    assert photos == prints["fpp"] + prints["fpe"]  # each print fetched is an audit entry
    assert "fingerprint.search" in _actions(app)
    decided = client.post(f"/v1/review/{item['id']}/decision", headers=auth(
        tokens["officer"]), json={"decision": "accept", "reason": "same ridges"})
    assert decided.status_code == 200 and decided.json()["status"] == "accepted"


def test_a_template_search_hits_too(app, client, tokens, fp, watchlist):
    from bordermatch.fingerprint.capture import decode_fingerprint
    from bordermatch.fingerprint.minutiae import encode_iso, extract_template

    iso = [encode_iso(extract_template(decode_fingerprint(upek(fp, f, 3)), pos))
           for f, pos in ((1, 2), (2, 3))]
    r = client.post("/v1/fingerprints/search", headers=auth(tokens["mobile_device"]),
                    data={"lane": POST, "positions": "2,3"},
                    files=[("fingers", (f"t{i}.iso", t, "application/octet-stream"))
                           for i, t in enumerate(iso)])
    assert r.status_code == 201 and r.json()["decision"] == "hit", r.text
    assert [f["quality"] for f in r.json()["fingers"]] == [None, None]


def test_a_stranger_is_no_hit_and_recorded(app, client, tokens, fp, watchlist):
    r = search(client, tokens["mobile_device"], [upek(fp, 3, 2), upek(fp, 4, 2)], "2,3")
    assert r.status_code == 201 and r.json()["decision"] == "no_hit", r.text
    assert _rows(app, ReviewItem) == []
    [found] = _rows(app, FingerprintSearch)
    assert found.subject_id is None and found.comparisons > 0
    entry = [a for a in _rows(app, AuditEvent) if a.action == "fingerprint.search"][-1]
    assert entry.resource_id == found.id and entry.detail["decision"] == "no_hit"


def test_a_poor_capture_asks_for_a_recapture(app, client, tokens, fp, watchlist, blobs):
    stored = set(blobs.ids())
    r = search(client, tokens["mobile_device"], [upek(fp, 1, 2), poor_print(fp)], "2,3")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["decision"] == "recapture" and body["min_quality"] == 30
    [again] = body["recapture"]
    assert again["finger"] == 1 and again["position"] == 3 and again["quality"] < 30
    assert body["fingers"][0]["quality"] >= 30
    assert set(blobs.ids()) == stored  # nothing of a recapture is kept but the scores
    assert all(p.image_blob is None for p in _rows(app, FingerprintProbe))
    assert "fingerprint.search" in _actions(app)


def test_a_citizens_probe_is_purged_within_12_hours(app, client, tokens, fp, watchlist,
                                                    clock, blobs, gallery):
    # A citizen enrolled (opted out, so no photo is needed), named by the document the
    # device read; and a foreigner the device declares so.
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data={"traveler_id": "T-CIT", "given_names": "C", "surname": "Itizen",
                          "document_type": "P", "document_number": "C123", "nationality":
                          "USA", "citizen": "true", "opt_out": "true"})
    assert r.status_code == 201, r.text
    prints = [upek(fp, 1, 2), upek(fp, 2, 2)]
    citizen = search(client, tokens["mobile_device"], prints, "2,3", document_number="C123",
                     nationality="usa", citizen="false")
    visitor = search(client, tokens["mobile_device"], prints, "2,3", citizen="false")
    assert citizen.status_code == visitor.status_code == 201
    svc = app.state.service
    by_search = {p.search_id: p for p in _rows(app, FingerprintProbe)}
    held = by_search[citizen.json()["id"]]
    kept = by_search[visitor.json()["id"]]
    assert held.image_blob in blobs and kept.image_blob in blobs
    clock.advance(hours=11, minutes=59)
    assert svc.purge().fingerprint_probes == 0
    clock.advance(minutes=1)
    report = svc.purge()
    assert report.fingerprint_probes == 2  # the citizen's two fingers
    rows = {p.id: p for p in _rows(app, FingerprintProbe)}
    assert rows[held.id].image_blob is None and rows[held.id].template_blob is None
    assert held.image_blob not in blobs and held.template_blob not in blobs
    assert rows[kept.id].image_blob in blobs  # a foreigner's stays for the longer period
    purge = [a for a in _rows(app, AuditEvent) if a.action == "retention.purge"][-1]
    assert held.id in purge.detail["fingerprint_probes"]
    [found] = [f for f in _rows(app, FingerprintSearch) if f.id == citizen.json()["id"]]
    assert found.citizen is True and found.traveler_id == "T-CIT"
    # The officer's page of the citizen's hit still opens; only the probe print is gone.
    [item] = [i for i in _rows(app, ReviewItem) if i.fingerprint_search_id == found.id]
    assert sign_in(client, tokens["officer"]).status_code == 200
    page = client.get(f"/review/items/{item.id}")
    assert page.status_code == 200
    prints = _prints(page.text)
    assert prints["fpp"] == [] and len(prints["fpe"]) == 2
    assert page.text.count('aria-label="Print taken on the handheld') == 2
    assert page.text.count(": purged\">purged</div>") == 2  # never a broken image
    assert client.get(f"/review/items/{item.id}/photos/fpp-{held.id}").status_code == 404
    for pid in prints["fpe"]:
        assert client.get(f"/review/items/{item.id}/photos/{pid}").status_code == 200


@pytest.mark.parametrize("role", ["airline_partner", "gate_device", "lane_device", "officer"])
def test_partners_and_other_devices_never_search(app, client, tokens, fp, watchlist, role):
    r = search(client, tokens[role], [upek(fp, 1, 2)], "2")
    assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    assert _rows(app, FingerprintSearch) == []
    assert "auth.forbidden" in _actions(app)


def test_a_handheld_searches_only_for_its_post(app, client, tokens, fp, watchlist):
    r = client.post("/v1/fingerprints/search", headers=auth(tokens["mobile_device"]),
                    data={"lane": "post-9", "positions": "2"},
                    files=[("fingers", ("f.png", upek(fp, 1, 2), "image/png"))])
    assert r.status_code == 403 and r.json()["code"] == "lane_not_bound"
    assert _rows(app, FingerprintSearch) == []


def test_bad_inputs_get_named_errors_and_leave_no_record(app, client, tokens, fp, watchlist):
    dev = tokens["mobile_device"]
    cases = [
        (search(client, dev, [upek(fp, 1, 2)], "2,3"), 422, "bad_input"),
        (search(client, dev, [upek(fp, 1, 2)], "11"), 422, "bad_input"),
        (search(client, dev, [b"not an image"], "2"), 422, "corrupt_image"),
        (search(client, dev, [upek(fp, 1, 2)], "2", document_number="X1"), 422, "bad_input"),
        (enrol_subject(client, tokens["supervisor"], "W-P", [poor_print(fp)], "2"), 422,
         "poor_capture"),
        (enrol_subject(client, tokens["supervisor"], "W-1", [upek(fp, 3, 1)], "2"), 409,
         "record_state"),
        (enrol_subject(client, tokens["supervisor"], "W-D", [upek(fp, 3, 1), upek(fp, 4, 1)],
                       "2,2"), 422, "bad_input"),
    ]
    for r, status, code in cases:
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert _rows(app, FingerprintSearch) == []
    assert len(_rows(app, WatchlistFinger)) == 4


def test_the_watchlist_is_loaded_from_the_database_at_start(settings, clock, blobs, client,
                                                            tokens, fp, watchlist):
    from fastapi.testclient import TestClient

    from bordermatch.api.app import create_app

    again = create_app(settings, clock=clock, blobs=blobs)
    with TestClient(again) as c2:
        assert len(again.state.service.watchlist._list or ()) == 2  # loaded by the lifespan
        r = search(c2, tokens["mobile_device"], [upek(fp, 5, 2), upek(fp, 6, 2)], "2,3")
    assert r.status_code == 201 and r.json()["decision"] == "hit", r.text


def test_an_enrolment_by_another_process_is_searched_next(settings, clock, blobs, client,
                                                          tokens, fp, watchlist, app):
    """Two service processes on one database: the second enrols, the first's next search
    sees the list's state moved and reloads it."""
    from fastapi.testclient import TestClient

    from bordermatch.api.app import create_app

    first = search(client, tokens["mobile_device"], [upek(fp, 3, 2), upek(fp, 4, 2)], "2,3")
    assert first.json()["decision"] == "no_hit"  # this process has loaded W-1 and W-2
    loaded = app.state.service.watchlist._list
    other = create_app(settings, clock=clock, blobs=blobs)
    with TestClient(other) as c2:
        r = enrol_subject(c2, tokens["supervisor"], "W-3", [upek(fp, 3, 1), upek(fp, 4, 1)],
                          "2,3")
        assert r.status_code == 201, r.text
    r = search(client, tokens["mobile_device"], [upek(fp, 3, 2), upek(fp, 4, 2)], "2,3")
    assert r.status_code == 201 and r.json()["decision"] == "hit", r.text
    assert app.state.service.watchlist._list is not loaded  # reloaded, not patched
    found = [f for f in _rows(app, FingerprintSearch) if f.id == r.json()["id"]]
    assert found[0].subject_id == "W-3"


def test_a_retried_search_gets_the_first_answer(app, client, tokens, fp, watchlist):
    prints = [upek(fp, 1, 2), upek(fp, 2, 2)]
    key = {"Idempotency-Key": "handheld-42"}
    first = client.post("/v1/fingerprints/search",
                        headers=auth(tokens["mobile_device"]) | key,
                        data={"lane": POST, "positions": "2,3"},
                        files=[("fingers", (f"f{i}.png", p, "image/png"))
                               for i, p in enumerate(prints)])
    again = client.post("/v1/fingerprints/search",
                        headers=auth(tokens["mobile_device"]) | key,
                        data={"lane": POST, "positions": "2,3"},
                        files=[("fingers", (f"f{i}.png", p, "image/png"))
                               for i, p in enumerate(prints)])
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["decision"] == "hit"
    assert len(_rows(app, FingerprintSearch)) == 1 and len(_rows(app, ReviewItem)) == 1
    other = client.post("/v1/fingerprints/search",
                        headers=auth(tokens["mobile_device"]) | key,
                        data={"lane": POST, "positions": "2"},
                        files=[("fingers", ("f.png", prints[0], "image/png"))])
    assert other.status_code == 409 and other.json()["code"] == "record_state"
