"""The operations queries (store/reports.py, store/gallery_view.py) on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bordermatch.errors import InputError
from bordermatch.store import gallery_view, repo, reports
from bordermatch.store.keys import Principal
from bordermatch.store.tables import AuditEvent

OFFICER = Principal("k-off", "Olga Officer", "officer")
DEVICE = Principal("k-dev", "Lane 1 camera", "lane_device", ("lane-1", "gate-3"))


def _bio(tid: str, citizen: bool = False) -> repo.Biographics:
    return repo.Biographics(tid, "Pat", f"S{tid}", "P", f"D-{tid}", "USA", citizen)


def _occ(track: int, decision: str, row: int | None = None, tid: str | None = None,
         reason: str | None = None) -> repo.OccupantRecord:
    return repo.OccupantRecord(track, tid, 6.0 if decision == "match" else None, decision,
                               55.0, row=row, seat=f"r{row}l" if row else None, reason=reason)


@pytest.fixture
def seeded(sessions, clock, admin):
    """Two lanes over two days: matches, a review, a no-capture, an opt-out."""
    now = clock.now()
    with sessions.begin() as s:
        g = repo.create_gallery(s, admin, now, "Crossing 4", "crossing",
                                now - timedelta(hours=1), now + timedelta(days=3))
        for tid in ("T1", "T2", "T3"):
            bio = _bio(tid, citizen=tid == "T3")
            repo.enrol_traveler(s, now, bio)
            repo.add_enrolment(s, admin, now, g, bio, None, None, "sface", 40.0,
                               now + timedelta(days=14))
        repo.add_encounter(s, DEVICE, now, kind="vehicle", gallery=g, lane="lane-1",
                           direction="entry", idempotency_key=None, request_hash=None,
                           occupants=[_occ(0, "match", 1, "T1"),
                                      _occ(1, "review", 2, "T2", "runner_up")])
        repo.add_encounter(s, DEVICE, now, kind="opt_out", gallery=g, lane="gate-3",
                           direction="entry", idempotency_key=None, request_hash=None,
                           occupants=[_occ(0, "manual_inspection", None, "T3", "opted_out")])
        gid = g.id
    clock.advance(days=1)
    with sessions.begin() as s:
        g = repo.get_gallery(s, gid)
        repo.add_encounter(s, DEVICE, clock.now(), kind="vehicle", gallery=g, lane="lane-1",
                           direction="exit", idempotency_key=None, request_hash=None,
                           occupants=[_occ(0, "no_capture", None, None, "no_capture"),
                                      _occ(1, "match", 1, "T1")])
    return gid


def test_rates_by_lane_row_and_day(sessions, clock, seeded):
    with sessions.begin() as s:
        now = clock.now()
        by_lane = {r.key: r for r in reports.rates(s, OFFICER, now, "lane")}
        by_row = {r.key: r for r in reports.rates(s, OFFICER, now, "row")}
        by_day = {r.key: r for r in reports.rates(s, OFFICER, now, "day")}
        recent = reports.rates(s, OFFICER, now, "lane", since=now - timedelta(hours=1))
    lane1 = by_lane["lane-1"]
    assert (lane1.vehicles, lane1.occupants, lane1.captured, lane1.matched, lane1.review) == \
        (2, 4, 3, 2, 1)
    assert lane1.capture_rate == 0.75 and lane1.validation_rate == 0.5
    gate = by_lane["gate-3"]
    assert (gate.occupants, gate.opted_out, gate.eligible) == (1, 1, 0)
    assert gate.capture_rate is None  # nobody there was meant to be captured
    assert set(by_row) == {"1", "2", "none"}
    assert (by_row["1"].occupants, by_row["1"].matched) == (2, 2)
    assert sorted(by_day) == ["2026-01-01", "2026-01-02"]
    assert by_day["2026-01-02"].captured == 1 and by_day["2026-01-01"].vehicles == 2
    assert [(r.key, r.occupants) for r in recent] == [("lane-1", 2)]
    assert reports.rate_table([lane1])[0] == ["lane-1", 2, 4, 0, 3, 2, 1, "0.7500", "0.5000"]
    with sessions() as s:
        with pytest.raises(InputError):
            reports.rates(s, OFFICER, clock.now(), "seat")
        actions = list(s.scalars(AuditEvent.__table__.select()
                                 .with_only_columns(AuditEvent.action)
                                 .where(AuditEvent.action == "report.rates")))
    assert len(actions) == 4  # each read audited, and only once


def test_review_outcomes_by_reason(sessions, clock, seeded):
    with sessions.begin() as s:
        item = next(i for i in repo.review_queue(s, OFFICER, clock.now())
                    if i.kind == "encounter")
        repo.adjudicate(s, OFFICER, clock.now(), item.id, False, "not the same person")
    with sessions.begin() as s:
        rows = reports.review_outcomes(s, OFFICER, clock.now())
    assert [(r.kind, r.reason, r.pending, r.accepted, r.rejected) for r in rows] == [
        ("encounter", "runner_up", 0, 0, 1), ("manual_inspection", "opted_out", 1, 0, 0)]


def test_monitor_lists_the_latest_vehicles_and_photo_states(sessions, clock, seeded):
    with sessions.begin() as s:
        lanes = reports.lanes(s)
        assert [a.lane for a in lanes] == ["lane-1", "gate-3"]  # most recently active first
        assert lanes[0].last_at == clock.now()
        assert [a.lane for a in reports.lanes(s, since=clock.now() - timedelta(hours=1))] == [
            "lane-1"]  # gate-3 was last seen a day ago
        newest, count = reports.lane_head(s, "lane-1")
        shown = reports.latest_vehicles(s, OFFICER, clock.now(), "lane-1", limit=1)
    assert count == 2 and [v.id for v in shown] == [newest]
    (vehicle,) = shown
    assert vehicle.attention  # a no-capture occupant
    assert [(o.decision, o.photo) for o in vehicle.occupants] == [
        ("no_capture", "no_capture"), ("match", "not_retained")]
    with sessions.begin() as s:
        assert reports.occupant_photo_blob(s, OFFICER, clock.now(),
                                           vehicle.occupants[1].id) == ("not_retained", None)
        assert reports.lane_head(s, "nowhere") == (None, 0)


def test_gallery_page_queries(sessions, clock, seeded, admin):
    with sessions.begin() as s:
        g = repo.get_gallery(s, seeded)
        repo.add_alias_alert(s, clock.now(), g.id, "T1", "T2", 7.5)
        page = gallery_view.travelers_page(s, OFFICER, clock.now(), g, page=1, size=2)
        second = gallery_view.travelers_page(s, OFFICER, clock.now(), g, page=2, size=2)
        report = gallery_view.enrolment_report(s, g.id)
        alerts = gallery_view.open_alias_alerts(s, g.id)
    assert (page.total, page.pages) == (3, 2)
    assert [r.traveler.id for r in page.rows] == ["T1", "T2"]
    assert [r.traveler.id for r in second.rows] == ["T3"]
    assert page.rows[0].references == 1 and page.rows[0].best_quality == 40.0
    assert (report.travelers, report.references, report.citizens) == (3, 3, 1)
    assert report.by_status == {"enrolled": 3} and report.low_quality == 0
    assert report.quality_mean == pytest.approx(40.0)
    assert [(a.item.traveler_id, a.traveler.surname, a.other.surname) for a in alerts] == [
        ("T1", "ST1", "ST2")]
    with sessions() as s, pytest.raises(InputError):
        gallery_view.travelers_page(s, OFFICER, clock.now(), g, page=0)
