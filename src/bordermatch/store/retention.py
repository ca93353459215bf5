"""Retention: purge photos and templates whose time is up, and sweep orphan blobs.

Every row that holds a blob carries ``purge_after`` (the watchlist's fingers excepted: a
supervisor manages that list) (set when it is written: citizens within
12 hours, non-citizens after the configured period; captures of unidentified people count as
citizens, since nothing shows they are not). :func:`purge` clears the references and
commits, with an audit entry, *then* deletes the blobs; a crash in between leaves only
unreferenced blobs, which :func:`sweep_orphans` removes.

The orphan sweep is mark-and-sweep with a grace period, because a request writes its blobs
before the transaction that references them commits: a blob seen unreferenced is first
marked, and deleted only if it is still unreferenced ``grace`` later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from bordermatch.store import audit, index_outbox, repo
from bordermatch.store.blobs import BlobStore
from bordermatch.store.clock import Clock
from bordermatch.store.keys import Principal
from bordermatch.store.tables import (
    DocumentRead,
    Enrolment,
    FingerprintProbe,
    Occupant,
    OrphanCandidate,
    WatchlistFinger,
)

log = logging.getLogger(__name__)

SYSTEM = Principal(key_id="system", name="retention job", role="system")


@dataclass(frozen=True, slots=True)
class PurgeReport:
    enrolments: int
    occupants: int
    blobs_deleted: int
    orphans_marked: int = 0
    orphans_deleted: int = 0
    document_reads: int = 0  # booth document photos purged
    fingerprint_probes: int = 0  # handheld probe prints and templates purged


def purge(sessions: sessionmaker[Session], blobs: BlobStore, clock: Clock,
          batch: int = 500) -> PurgeReport:
    """Purge every record past its ``purge_after``."""
    deleted: list[str] = []
    n_enrol = n_occ = n_doc = n_probe = 0
    while True:
        now = clock.now()
        with sessions.begin() as s:
            enrol = list(s.scalars(select(Enrolment).where(Enrolment.purge_after <= now,
                                                           Enrolment.purged_at.is_(None))
                                   .limit(batch)))
            occ = list(s.scalars(select(Occupant).where(Occupant.purge_after <= now,
                                                        Occupant.purged_at.is_(None))
                                 .limit(batch)))
            docs = list(s.scalars(select(DocumentRead).where(DocumentRead.purge_after <= now,
                                                             DocumentRead.purged_at.is_(None))
                                  .limit(batch)))
            probes = list(s.scalars(select(FingerprintProbe).where(
                FingerprintProbe.purge_after <= now, FingerprintProbe.purged_at.is_(None))
                .limit(batch)))
            if not enrol and not occ and not docs and not probes:
                break
            n_enrol, n_occ, n_doc = n_enrol + len(enrol), n_occ + len(occ), n_doc + len(docs)
            n_probe += len(probes)
            doomed: list[str] = []
            index_outbox.record_delete(s, now, enrol)
            for e in enrol:
                doomed += [b for b in (e.photo_blob, e.template_blob) if b]
                e.photo_blob = e.template_blob = None
                e.purged_at = now
                if e.status == "enrolled":
                    e.status = "purged"
            for o in occ:
                doomed += [b for b in (o.capture_blob, o.template_blob) if b]
                o.capture_blob = o.template_blob = None
                o.purged_at = now
            for d in docs:
                doomed += [d.photo_blob] if d.photo_blob else []
                d.photo_blob, d.purged_at = None, now
            for p in probes:
                doomed += [b for b in (p.image_blob, p.template_blob) if b]
                p.image_blob = p.template_blob = None
                p.purged_at = now
            repo.bump_revision(s, {e.gallery_id for e in enrol})
            audit.append(s, now, SYSTEM, "retention.purge", "blob", None,
                         enrolments=[e.id for e in enrol], occupants=[o.id for o in occ],
                         document_reads=[d.id for d in docs],
                         fingerprint_probes=[p.id for p in probes], blobs=len(doomed))
        # Only after the commit: a crash here leaves unreferenced blobs, never dangling rows.
        for blob_id in doomed:
            if blobs.delete(blob_id):
                deleted.append(blob_id)
    return PurgeReport(n_enrol, n_occ, len(deleted), document_reads=n_doc,
                       fingerprint_probes=n_probe)


def _referenced(s: Session) -> set[str]:
    cols = union_all(
        select(Enrolment.photo_blob.label("b")), select(Enrolment.template_blob),
        select(Occupant.capture_blob), select(Occupant.template_blob),
        select(DocumentRead.photo_blob),
        select(WatchlistFinger.template_blob), select(WatchlistFinger.image_blob),
        select(FingerprintProbe.image_blob), select(FingerprintProbe.template_blob),
    ).subquery()
    return {b for (b,) in s.execute(select(cols.c.b).where(cols.c.b.is_not(None)))}


def sweep_orphans(sessions: sessionmaker[Session], blobs: BlobStore, clock: Clock,
                  grace: timedelta) -> tuple[int, int]:
    """Mark unreferenced blobs; delete those marked at least ``grace`` ago. (marked, deleted)"""
    now = clock.now()
    on_disk = set(blobs.ids())
    with sessions.begin() as s:
        unreferenced = on_disk - _referenced(s)
        marks = {c.blob_id: c for c in s.scalars(select(OrphanCandidate))}
        # A mark whose blob got referenced (or vanished) is stale.
        stale = [b for b in marks if b not in unreferenced]
        if stale:
            s.execute(delete(OrphanCandidate).where(OrphanCandidate.blob_id.in_(stale)))
        due = [b for b in unreferenced if b in marks and now - marks[b].created_at >= grace]
        new = [b for b in unreferenced if b not in marks]
        for b in new:
            s.add(OrphanCandidate(blob_id=b, created_at=now))
        if due:
            s.execute(delete(OrphanCandidate).where(OrphanCandidate.blob_id.in_(due)))
    blobs.sweep_temp()
    removed = 0
    for blob_id in due:
        with sessions.begin() as s:
            # Re-check inside a fresh transaction: a slow request may have committed by now.
            if blob_id in _referenced(s):
                continue
        removed += int(blobs.delete(blob_id))
    if due or new:
        log.info("orphan sweep: %d marked, %d deleted", len(new), removed)
    return len(new), removed


def run_once(sessions: sessionmaker[Session], blobs: BlobStore, clock: Clock,
             grace: timedelta) -> PurgeReport:
    report = purge(sessions, blobs, clock)
    marked, swept = sweep_orphans(sessions, blobs, clock, grace)
    return PurgeReport(report.enrolments, report.occupants, report.blobs_deleted, marked, swept,
                       report.document_reads, report.fingerprint_probes)


class PurgeScheduler:
    """Runs a job every ``interval_s`` on a daemon thread until ``stop``."""

    def __init__(self, job: Callable[[], object], interval_s: float) -> None:
        self._job = job
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bordermatch-purge",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._job()
            except Exception:
                # The next run retries; a failed purge must not kill the scheduler.
                log.exception("scheduled purge failed")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
