"""Audit hash chain and retention purge, with a controlled clock, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text, update

from bordermatch.store import audit, repo, retention
from bordermatch.store.tables import AuditEvent, Enrolment


def _gallery(sessions, admin, clock):
    with sessions.begin() as s:
        g = repo.create_gallery(s, admin, clock.now(), "Lane 3, Peace Arch", "crossing",
                                clock.now(), clock.now() + timedelta(days=2))
    return g.id


def _bio(tid: str, citizen: bool) -> repo.Biographics:
    return repo.Biographics(tid, "Given", "Surname", "P", f"X{tid}", "USA" if citizen else "CAN",
                            citizen)


def _enrol(sessions, blobs, admin, clock, gid, tid, citizen, hours):
    photo = blobs.put(b"photo of " + tid.encode(), kind="image")
    template = blobs.put(b"\0" * 512, kind="template")
    with sessions.begin() as s:
        g = repo.get_gallery(s, gid)
        e = repo.add_enrolment(s, admin, clock.now(), g, _bio(tid, citizen), photo, template,
                               "sface", 80.0, clock.now() + timedelta(hours=hours))
    return e.id, photo, template


def test_audit_chain_verifies_and_detects_edits(sessions, admin, clock):
    gid = _gallery(sessions, admin, clock)
    with sessions.begin() as s:
        for i in range(5):
            audit.append(s, clock.now(), admin, "traveler.read", "traveler", f"t{i}", n=i)
    with sessions() as s:
        report = audit.verify_chain(s)
        assert report.ok and report.entries == 6
    with sessions.begin() as s:  # an insider rewrites who was looked at
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3)
                  .values(resource_id="someone-else"))
    with sessions() as s:
        report = audit.verify_chain(s)
        assert not report.ok and report.first_bad_seq == 3
    assert gid


def test_audit_chain_detects_a_deleted_entry(sessions, admin, clock):
    with sessions.begin() as s:
        for i in range(4):
            audit.append(s, clock.now(), admin, "x", "traveler", f"t{i}")
    with sessions.begin() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    with sessions() as s:
        report = audit.verify_chain(s)
    assert not report.ok and report.first_bad_seq == 3


def test_audit_chain_detects_a_recomputed_entry(sessions, admin, clock):
    """Editing a row and recomputing its own hash still breaks the next link."""
    with sessions.begin() as s:
        for i in range(3):
            audit.append(s, clock.now(), admin, "x", "traveler", f"t{i}")
    with sessions.begin() as s:
        row = s.get(AuditEvent, 2)
        row.resource_id = "forged"
        row.hash = audit.entry_hash(row.prev_hash, row)
    with sessions() as s:
        report = audit.verify_chain(s)
    assert not report.ok and report.first_bad_seq == 3


def test_citizen_biometrics_purged_at_12h_noncitizen_kept(sessions, blobs, admin, clock):
    gid = _gallery(sessions, admin, clock)
    cit = _enrol(sessions, blobs, admin, clock, gid, "c1", True, 12)
    non = _enrol(sessions, blobs, admin, clock, gid, "n1", False, 24 * 14)
    clock.advance(hours=11, minutes=59)
    assert retention.purge(sessions, blobs, clock).enrolments == 0
    assert blobs.exists(cit[1]) and blobs.exists(cit[2])
    clock.advance(minutes=1)
    report = retention.purge(sessions, blobs, clock)
    assert report.enrolments == 1 and report.blobs_deleted == 2
    assert not blobs.exists(cit[1]) and not blobs.exists(cit[2])
    assert blobs.exists(non[1]) and blobs.exists(non[2])
    with sessions() as s:
        e = s.get(Enrolment, cit[0])
        assert e.photo_blob is None and e.template_blob is None and e.status == "purged"
        assert s.get(Enrolment, non[0]).template_blob == non[2]
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "retention.purge"))
        assert audit.verify_chain(s).ok
        assert repo.gallery_templates(s, gid, "sface") == [(non[0], "n1", non[2])]


def test_orphan_blob_swept_only_after_grace(sessions, blobs, admin, clock):
    gid = _gallery(sessions, admin, clock)
    _, kept_photo, _ = _enrol(sessions, blobs, admin, clock, gid, "c1", True, 12)
    orphan = blobs.put(b"written, then the process died", kind="image")
    grace = timedelta(minutes=10)
    assert retention.sweep_orphans(sessions, blobs, clock, grace) == (1, 0)
    clock.advance(minutes=9)
    assert retention.sweep_orphans(sessions, blobs, clock, grace) == (0, 0)
    assert blobs.exists(orphan)
    clock.advance(minutes=1)
    assert retention.sweep_orphans(sessions, blobs, clock, grace) == (0, 1)
    assert not blobs.exists(orphan) and blobs.exists(kept_photo)


def test_marked_blob_that_gets_referenced_is_kept(sessions, blobs, admin, clock):
    gid = _gallery(sessions, admin, clock)
    late = blobs.put(b"slow request", kind="image")
    grace = timedelta(minutes=10)
    retention.sweep_orphans(sessions, blobs, clock, grace)
    with sessions.begin() as s:  # the slow request commits its row after the mark
        g = repo.get_gallery(s, gid)
        repo.add_enrolment(s, admin, clock.now(), g, _bio("late", False), late, None, None,
                           None, clock.now() + timedelta(days=30))
    clock.advance(hours=1)
    assert retention.sweep_orphans(sessions, blobs, clock, grace) == (0, 0)
    assert blobs.exists(late)
