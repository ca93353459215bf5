"""The application layer's shared state: settings, store, face engine, operating points.

Each workflow (``service.enrol``, ``service.gate``, ``service.vehicle``, ``service.verify``)
decodes and matches first (pure work on the face engine and the lane core), writes blobs
second, and commits the referencing rows with their audit entry last, in one transaction.
If the transaction fails the blobs are deleted; if the process dies in between, the orphan
sweep (``store.retention.sweep_orphans``) deletes them. So no row ever points at a missing
blob and no blob outlives its grace period unreferenced.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bordermatch import registry
from bordermatch.documents.trust import TrustDirectory
from bordermatch.errors import ConfigError, RecordStateError
from bordermatch.io.images import decode_image
from bordermatch.match.engine import FaceEngine
from bordermatch.service.galleries import (
    BlobTemplates,
    LoadedTemplates,
    SizedIndex,
    StoredGallery,
    Templates,
)
from bordermatch.service.shared_index import SHARED_BACKENDS, SharedIndexes
from bordermatch.service.thresholds import ServiceThresholds, build_thresholds
from bordermatch.service.watchlist import LoadedWatchlist
from bordermatch.store import repo, retention
from bordermatch.store.blobs import BlobStore
from bordermatch.store.clock import Clock
from bordermatch.store.config import ServiceSettings
from bordermatch.store.document_reads import DocumentReadRecord
from bordermatch.store.keys import Principal
from bordermatch.store.tables import Encounter, Occupant
from bordermatch.types import Decision, Image, Quality, Reason

PutBlob = Callable[[bytes, str], str]


@dataclass(frozen=True, slots=True)
class EncounterResult:
    encounter: Encounter
    occupants: tuple[Occupant, ...]
    replayed: bool


class ServiceCore:
    """State every workflow shares. The face engine loads on first use (a deployment that
    only purges or reviews never pays for it); the operating points are built now, so an
    uncalibrated deployment fails at start-up."""

    def __init__(self, settings: ServiceSettings, sessions: sessionmaker[Session],
                 blobs: BlobStore, clock: Clock,
                 engine_factory: Callable[[], FaceEngine],
                 thresholds: ServiceThresholds | None = None) -> None:
        check_index_backend(settings.index_backend)
        self.settings = settings
        self.sessions = sessions
        self.blobs = blobs
        self.clock = clock
        self.thresholds = thresholds or build_thresholds(settings)
        self.trust = TrustDirectory(settings.trust_dir)  # CSCAs for booth chip reads
        self._engine_factory = engine_factory
        self._engine: FaceEngine | None = None
        self._engine_lock = threading.Lock()
        self._cache: dict[str, tuple[int, StoredGallery]] = {}
        self._cache_lock = threading.Lock()
        self.shared_index: SharedIndexes | None = None
        if settings.index_backend in SHARED_BACKENDS:
            token = settings.index_token.get_secret_value() if settings.index_token else None
            self.shared_index = SharedIndexes(sessions, blobs, clock, uri=settings.index_uri,
                                              token=token, index_type=settings.index_type)
        self.watchlist = LoadedWatchlist(sessions, blobs)  # the fingerprint watchlist

    @property
    def model(self) -> str:
        return self.thresholds.model

    @property
    def engine(self) -> FaceEngine:
        with self._engine_lock:
            if self._engine is None:
                engine = self._engine_factory()
                if self.model not in engine.matcher.first_models:
                    raise ConfigError(f"engine searches with {engine.matcher.first_models}, "
                                      f"the operating points are for {self.model!r}")
                self._engine = engine
            return self._engine

    def decode(self, data: bytes, name: str) -> Image:
        return decode_image(data, self.settings.limits, name=name)

    def calibrated(self, cosines: np.ndarray) -> np.ndarray:
        return self.thresholds.scale.of_cosine(cosines)

    # -- galleries ------------------------------------------------------------------------
    def gallery(self, gallery_id: str) -> StoredGallery:
        """The gallery at its current revision, rebuilt when the revision moved (an
        in-process index is built afresh from the enrolled templates, so no opted-out or
        purged reference survives in it). A shared index gets the gallery's pending outbox
        rows first and is never rebuilt here."""
        if self.shared_index is not None:
            self.shared_index.sync(gallery_id)
        with self.sessions() as s:
            rev = repo.gallery_revision(s, gallery_id)
            with self._cache_lock:
                hit = self._cache.get(gallery_id)
                if hit is not None and hit[0] == rev:
                    return hit[1]
            rows = repo.gallery_templates(s, gallery_id, self.model)
            documents = repo.gallery_documents(s, gallery_id)
        dim = self.engine.embedder(self.model).dim
        owners = {e: t for e, t, _ in rows}
        index: SizedIndex
        templates: Templates
        if self.shared_index is not None:
            # Nothing preloaded: gates read their candidates' templates (service.galleries).
            index = self.shared_index.index(gallery_id, self.model, dim)
            templates = BlobTemplates({e: b for e, _, b in rows}, self.blobs, dim)
        else:
            loaded = LoadedTemplates.read(rows, self.blobs, dim)
            index = registry.create("index", self.settings.index_backend, dim=dim)
            if rows:
                index.add(loaded.ids, loaded.matrix)
            templates = loaded
        entry = StoredGallery(index, owners, documents, templates)
        with self._cache_lock:
            self._cache[gallery_id] = (rev, entry)
        return entry

    def forget_galleries(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    # -- blobs with rollback ---------------------------------------------------------------
    @contextlib.contextmanager
    def blob_batch(self) -> Iterator[PutBlob]:
        written: list[str] = []

        def put(data: bytes, kind: str) -> str:
            blob_id = self.blobs.put(data, kind=kind)
            written.append(blob_id)
            return blob_id

        try:
            yield put
        except BaseException:
            for b in written:
                with contextlib.suppress(Exception):
                    self.blobs.delete(b)
            raise

    def retention_until(self, now: datetime, citizen: bool | None) -> datetime:
        hours = (self.settings.noncitizen_retention_hours if citizen is False
                 else self.settings.citizen_retention_hours)
        return now + timedelta(hours=hours)

    # -- encounters ------------------------------------------------------------------------
    def replay(self, who: Principal, key: str | None, request_hash: str,
               ) -> EncounterResult | None:
        if key is None:
            return None
        with self.sessions() as s:
            enc = repo.find_idempotent(s, who.key_id, key)
            if enc is None:
                return None
            if enc.request_hash != request_hash:
                raise RecordStateError("Idempotency-Key was already used for a different request")
            _, occ = repo.get_encounter(s, enc.id)
        return EncounterResult(enc, tuple(occ), True)

    def commit(self, who: Principal, gallery_id: str, lane: str, direction: str, kind: str,
               records: list[repo.OccupantRecord], idempotency_key: str | None,
               request_hash: str, write: Callable[[PutBlob], None],
               event_ref: str | None = None, latency_ms: float = 0.0,
               unmatched_documents: Sequence[tuple[str, str, str]] = (),
               document_reads: Sequence[DocumentReadRecord] = ()) -> EncounterResult:
        who.check_lane(lane)
        t0 = self.clock.now()
        try:
            with self.blob_batch() as put:
                # Blobs first and outside the transaction: fsyncs never hold the DB lock.
                write(put)
                with self.sessions.begin() as s:
                    g = repo.serving_gallery(s, who, gallery_id, lane, t0)
                    enc = repo.add_encounter(s, who, t0, kind=kind, gallery=g, lane=lane,
                                             direction=direction, occupants=records,
                                             idempotency_key=idempotency_key,
                                             request_hash=request_hash, event_ref=event_ref,
                                             latency_ms=latency_ms,
                                             unmatched_documents=unmatched_documents,
                                             document_reads=document_reads)
                    s.flush()
                    _, occ = repo.get_encounter(s, enc.id)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key won the race.
            replay = self.replay(who, idempotency_key, request_hash)
            if replay is None:
                raise
            return replay
        return EncounterResult(enc, tuple(occ), False)

    def travelers(self, ids: Sequence[str | None]):
        with self.sessions() as s:
            return repo.travelers_by_id(s, [t for t in ids if t])

    # -- retention -------------------------------------------------------------------------
    def purge(self) -> retention.PurgeReport:
        report = retention.run_once(self.sessions, self.blobs, self.clock,
                                    timedelta(seconds=self.settings.orphan_grace_s))
        if report.enrolments:
            self.forget_galleries()
        if self.shared_index is not None:  # the relay's schedule (docs/scale.md)
            self.shared_index.scheduled()
        return report


def decision_basis(core: ServiceCore, decision: Decision, source: str | None,
                   quality: Quality | None = None) -> dict:
    """A decision in the one decision path's terms, as a review item keeps it: what the
    officer is shown (the reason, the score against the threshold and the rate it was
    calibrated for, the runner-up's score, the capture's quality components) whatever the
    operating points become later."""
    th = core.thresholds
    review = th.search.review
    if source == "document":
        # A 1:few match is held when a traveller not read fits at the open-set review floor.
        review = th.search.floor if decision.reason is Reason.RUNNER_UP else th.document.review
    basis: dict[str, object] = {"reason": decision.reason.value, "score": decision.score,
                                "threshold": decision.threshold, "rate": decision.rate,
                                "target": decision.target, "review_threshold": review,
                                "runner_up": decision.runner_up, "source": source}
    if decision.scale is not None:  # the threshold was this capture's own (match.normalise)
        basis["scale"] = decision.scale
    if quality is not None:
        basis["quality"] = {f.name: round(float(getattr(quality, f.name)), 3)
                            for f in fields(quality)}
    return basis


def check_index_backend(name: str) -> None:
    if name not in registry.names("index"):
        raise ConfigError(f"unknown index backend {name!r}; have {registry.names('index')}")
