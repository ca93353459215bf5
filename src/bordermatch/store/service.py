"""The service's workflows: enrolment, encounters, 1:1 verification, purge.

Each workflow decodes and matches first (pure work on the face engine), writes blobs second,
and commits the referencing rows with their audit entry last, in one transaction. If the
transaction fails the blobs are deleted; if the process dies in between, the orphan sweep
(``retention.sweep_orphans``) deletes them. So no row ever points at a missing blob and no
blob outlives its grace period unreferenced.

1:N scores are on the calibrated scale of the search recognizer (the first model of the
configured matcher; ``bordermatch.match.fusion``). The match threshold is the one calibrated
for ``target_fmr`` per comparison (so a gallery of N travellers has FPIR <= N x FMR), the
review band starts at the ``review_fmr`` threshold, and alias alerts use ``alias_fmr`` (by
default the strictest calibrated threshold).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bordermatch import registry
from bordermatch.errors import ConfigError, InputError, RecordStateError
from bordermatch.io.images import decode_image, encode_png
from bordermatch.match.decide import decide
from bordermatch.match.fusion import Matcher, load_matcher
from bordermatch.match.search import alias_in_doubt
from bordermatch.store import audit, repo, retention
from bordermatch.store.blobs import BlobStore
from bordermatch.store.clock import Clock
from bordermatch.store.config import ServiceSettings
from bordermatch.store.keys import Principal
from bordermatch.store.tables import (
    Encounter,
    Enrolment,
    Gallery,
    Occupant,
    ReviewItem,
    Traveler,
)
from bordermatch.types import FaceSample, Image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EnrolResult:
    enrolment: Enrolment
    alias_alerts: tuple[ReviewItem, ...]


@dataclass(frozen=True, slots=True)
class EncounterResult:
    encounter: Encounter
    occupants: tuple[Occupant, ...]
    replayed: bool


@dataclass(frozen=True, slots=True)
class FaceMatch:
    """One face's 1:N outcome before it is stored."""

    sample: FaceSample
    traveler_id: str | None
    score: float | None
    decision: str


class BorderService:
    def __init__(self, settings: ServiceSettings, sessions: sessionmaker[Session],
                 blobs: BlobStore, clock: Clock, engine_factory: Callable[[], object]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.blobs = blobs
        self.clock = clock
        self._engine_factory = engine_factory
        self._engine = None
        self._engine_lock = threading.Lock()
        self._cache: dict[str, tuple[int, object]] = {}
        self._cache_lock = threading.Lock()

    # -- engine and thresholds ---------------------------------------------------------
    @property
    def engine(self):
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._engine_factory()
                model = self._engine.matcher.first_models[0]
                self.model = model
                self.scorer: Matcher = load_matcher(model)
                self.match_threshold = self.scorer.threshold(self.settings.target_fmr)
                review = self.settings.review_fmr
                self.review_threshold = (self.scorer.threshold(review)
                                         if review > self.settings.target_fmr else None)
                strictest = min(f for f, _ in self.scorer.thresholds)
                self.alias_threshold = self.scorer.threshold(self.settings.alias_fmr or strictest)
            return self._engine

    def _calibrated(self, cosine: float) -> float:
        return float(self.scorer.primary({self.model: cosine}))

    def _decode(self, data: bytes, name: str) -> Image:
        return decode_image(data, self.settings.limits, name=name)

    # -- 1:N ------------------------------------------------------------------------------
    def _cached(self, gallery_id: str):
        """(index, ids, vectors) of a gallery, rebuilt when its revision moved."""
        engine = self.engine
        with self.sessions() as s:
            rev = repo.gallery_revision(s, gallery_id)
            with self._cache_lock:
                hit = self._cache.get(gallery_id)
                if hit is not None and hit[0] == rev:
                    return hit[1]
            rows = repo.gallery_templates(s, gallery_id, self.model)
        dim = engine.embedder(self.model).dim
        index = registry.create("index", self.settings.index_backend, dim=dim)
        ids = [t for t, _ in rows]
        vectors = np.zeros((0, dim), np.float32)
        if rows:
            vectors = np.stack([np.frombuffer(self.blobs.get(b, kind="template"), np.float32)
                                for _, b in rows])
            index.add(ids, vectors)
        entry = (index, ids, vectors)
        with self._cache_lock:
            self._cache[gallery_id] = (rev, entry)
        return entry

    def _index(self, gallery_id: str):
        return self._cached(gallery_id)[0]

    def gallery_matrix(self, gallery_id: str) -> tuple[list[str], np.ndarray]:
        _, ids, vectors = self._cached(gallery_id)
        return ids, vectors

    def vehicle_encounter(self, who: Principal, gallery_id: str, event: str,
                          frames: Sequence[tuple[str, bytes]], idempotency_key: str | None,
                          request_hash: str) -> EncounterResult:
        from bordermatch.store.vehicle import vehicle_encounter

        return vehicle_encounter(self, who, gallery_id, event, frames, idempotency_key,
                                 request_hash)

    def _search(self, gallery_id: str, samples: Sequence[FaceSample],
                aliases: dict[str, set[str]] | None = None) -> list[FaceMatch]:
        """Decide every face; one traveller is matched to at most one face (best first).

        A match to a traveller with an open alias alert is ``review`` when the face also
        reaches the review threshold against the flagged partner (vehicle lanes use the
        broader runner-up rule of ``lane.pipeline``).
        """
        if not samples:
            return []
        aliases = aliases or {}
        alias_floor = (self.review_threshold if self.review_threshold is not None
                       else self.match_threshold)
        index = self._index(gallery_id)
        n = len(index) if hasattr(index, "__len__") else 0
        if n == 0:
            return [FaceMatch(smp, None, None, "no_match") for smp in samples]
        queries = np.stack([smp.template(self.model).vector for smp in samples])
        scores, ids = index.search(queries.astype(np.float32), min(n, len(samples) + 1))
        cands = [[(self._calibrated(float(c)), t) for c, t in zip(row_s, row_i, strict=True)]
                 for row_s, row_i in zip(scores, ids, strict=True)]
        order = sorted(range(len(samples)), key=lambda i: -cands[i][0][0])
        taken: set[str] = set()
        out: list[FaceMatch | None] = [None] * len(samples)
        for i in order:
            best = next(((sc, t) for sc, t in cands[i] if t not in taken), None)
            d = decide(best[0] if best else None, self.match_threshold,
                       self.settings.target_fmr, self.review_threshold)
            decision = "no_match" if best is None else d.outcome.value
            tid = best[1] if best and decision in ("match", "review") else None
            if decision == "match" and alias_in_doubt(
                    tid, aliases, self._scorer_for(gallery_id, queries[i]), alias_floor):
                decision = "review"
            if decision == "match" and tid:
                taken.add(tid)
            out[i] = FaceMatch(samples[i], tid, best[0] if best else None, decision)
        return [m for m in out if m is not None]

    def _scorer_for(self, gallery_id: str, query: np.ndarray):
        """Calibrated score of one face against any enrolled traveller (None if absent)."""
        def score_of(traveler_id: str) -> float | None:
            ids, vectors = self.gallery_matrix(gallery_id)
            try:
                row = ids.index(traveler_id)
            except ValueError:
                return None
            return self._calibrated(float(vectors[row] @ query))
        return score_of

    # -- blobs with rollback ---------------------------------------------------------------
    @contextlib.contextmanager
    def _blob_batch(self):
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

    def _retention(self, now: datetime, citizen: bool | None) -> datetime:
        hours = (self.settings.noncitizen_retention_hours if citizen is False
                 else self.settings.citizen_retention_hours)
        return now + timedelta(hours=hours)

    # -- enrolment --------------------------------------------------------------------------
    def enrol(self, who: Principal, gallery_id: str, bio: repo.Biographics,
              photo: bytes | None) -> EnrolResult:
        now = self.clock.now()
        with self.sessions() as s:
            g = repo.get_gallery(s, gallery_id)
            if g.status != "open":
                raise RecordStateError(f"gallery {gallery_id} is closed")
            known = s.get(Traveler, bio.traveler_id)
            opted_out = bio.opt_out or bool(known and known.opted_out)
        sample, alias = None, []
        if not opted_out:
            if photo is None:
                raise InputError("a photo is required unless the traveller opts out")
            image = self._decode(photo, "photo")
            sample = self.engine.primary_sample(image, [self.model], refuse_ambiguous=True)
            alias = self._alias_scan(gallery_id, sample, bio.traveler_id)
        with self._blob_batch() as put:
            photo_blob = template_blob = None
            if sample is not None:
                photo_blob = put(photo, "image")
                template_blob = put(sample.template(self.model).vector.astype(np.float32)
                                    .tobytes(), "template")
            with self.sessions.begin() as s:
                return self._enrol_rows(s, who, now, gallery_id, bio, sample, photo_blob,
                                        template_blob, alias)

    def _enrol_rows(self, s: Session, who: Principal, now: datetime, gallery_id: str,
                    bio: repo.Biographics, sample: FaceSample | None, photo_blob: str | None,
                    template_blob: str | None, alias: list[FaceMatch]) -> EnrolResult:
        g = s.get(Gallery, gallery_id)
        if g.status != "open":  # closed while we were embedding
            raise RecordStateError(f"gallery {gallery_id} is closed")
        e = repo.add_enrolment(
            s, who, now, g, bio, photo_blob, template_blob,
            self.model if sample is not None else None,
            sample.quality.unified if sample is not None else None,
            self._retention(now, bio.citizen) if sample is not None else None)
        items = tuple(repo.add_alias_alert(s, now, gallery_id, bio.traveler_id,
                                           m.traveler_id, m.score) for m in alias)
        if items:
            audit.append(s, now, who, "review.alias", "traveler", bio.traveler_id,
                         others=[m.traveler_id for m in alias])
        return EnrolResult(e, items)

    def _alias_scan(self, gallery_id: str, sample: FaceSample,
                    traveler_id: str) -> list[FaceMatch]:
        """The best-scoring other identity above the alias threshold, if any."""
        index = self._index(gallery_id)
        n = len(index)
        if n == 0:
            return []
        scores, ids = index.search(sample.template(self.model).vector[None, :], min(n, 3))
        hits = []
        for c, t in zip(scores[0], ids[0], strict=True):
            sc = self._calibrated(float(c))
            if t != traveler_id and sc >= self.alias_threshold:
                hits.append(FaceMatch(sample, t, sc, "alias"))
        return hits[:1]

    # -- encounters --------------------------------------------------------------------------
    def _replay(self, who: Principal, key: str | None, request_hash: str) -> EncounterResult | None:
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

    def gate_encounter(self, who: Principal, gallery_id: str, lane: str, direction: str,
                       photo: bytes, idempotency_key: str | None, request_hash: str,
                       kind: str = "gate") -> EncounterResult:
        replay = self._replay(who, idempotency_key, request_hash)
        if replay is not None:
            return replay
        image, matches = self._gate_matches(gallery_id, photo)
        token = None
        if kind == "board" and any(m.decision == "match" for m in matches):
            # Opaque to the airline: it names nobody and is only valid for this encounter.
            token = secrets.token_urlsafe(24)
        return self._store(who, gallery_id, lane, direction, kind, image, matches,
                           idempotency_key, request_hash, event_ref=token)

    def _gate_matches(self, gallery_id: str, photo: bytes) -> tuple[Image, list[FaceMatch]]:
        with self.sessions() as s:
            repo.usable_gallery(s, gallery_id, self.clock.now())
            aliases = repo.open_alias_pairs(s, gallery_id)
        image = self._decode(photo, "photo")
        samples = self.engine.samples(image, models=[self.model])
        return image, self._search(gallery_id, samples, aliases)

    def board(self, who: Principal, gallery_id: str, lane: str, photo: bytes,
              idempotency_key: str | None, request_hash: str) -> EncounterResult:
        """Boarding at a departure gate: an exit encounter whose token proves the match."""
        return self.gate_encounter(who, gallery_id, lane, "exit", photo, idempotency_key,
                                   request_hash, kind="board")

    def opt_out_encounter(self, who: Principal, gallery_id: str, lane: str, direction: str,
                          traveler_id: str, idempotency_key: str | None,
                          request_hash: str) -> EncounterResult:
        """No capture at all: the traveller goes to manual inspection (a review item)."""
        replay = self._replay(who, idempotency_key, request_hash)
        if replay is not None:
            return replay
        with self.sessions() as s:
            repo.usable_gallery(s, gallery_id, self.clock.now())
            repo.get_traveler(s, traveler_id)
        record = repo.OccupantRecord(track_id=0, traveler_id=traveler_id, score=None,
                                     decision="manual_inspection", quality=None)
        return self._commit(who, gallery_id, lane, direction, "opt_out", [record],
                            idempotency_key, request_hash, lambda put: None)

    def _store(self, who, gallery_id, lane, direction, kind, image: Image,
               matches: Sequence[FaceMatch], idempotency_key, request_hash,
               event_ref: str | None = None) -> EncounterResult:
        now = self.clock.now()
        with self.sessions() as s:
            travelers = repo.travelers_by_id(s, [m.traveler_id for m in matches
                                                 if m.traveler_id])
        records: list[repo.OccupantRecord] = []

        def write(put) -> None:
            if not matches:  # no usable face: a capture failure, recorded as such
                records.append(repo.OccupantRecord(0, None, None, "no_capture", None))
            for i, m in enumerate(matches):
                t = travelers.get(m.traveler_id) if m.traveler_id else None
                if t is not None and t.opted_out:
                    records.append(repo.OccupantRecord(i, t.id, None, "manual_inspection",
                                                       None))
                    continue
                x1, y1, x2, y2 = (int(np.rint(v)) for v in m.sample.face.box)
                h, w = image.shape[:2]
                crop = image[max(0, y1):min(h, y2), max(0, x1):min(w, x2)]
                capture = put(encode_png(np.ascontiguousarray(crop)), "image") \
                    if crop.size else None
                template = put(m.sample.template(self.model).vector.astype(np.float32)
                               .tobytes(), "template")
                records.append(repo.OccupantRecord(
                    i, m.traveler_id, m.score, m.decision, m.sample.quality.unified,
                    capture_blob=capture,
                    template_blob=template,
                    purge_after=self._retention(now, t.citizen if t else None)))

        return self._commit(who, gallery_id, lane, direction, kind, records, idempotency_key,
                            request_hash, write, event_ref)

    def _commit(self, who, gallery_id, lane, direction, kind, records, idempotency_key,
                request_hash, write, event_ref: str | None = None,
                latency_ms: float = 0.0) -> EncounterResult:
        t0 = self.clock.now()
        try:
            with self._blob_batch() as put:
                # Blobs first and outside the transaction: fsyncs never hold the DB lock.
                write(put)
                with self.sessions.begin() as s:
                    g = repo.usable_gallery(s, gallery_id, t0)
                    enc = repo.add_encounter(s, who, t0, kind=kind, gallery=g, lane=lane,
                                             direction=direction, occupants=records,
                                             idempotency_key=idempotency_key,
                                             request_hash=request_hash, event_ref=event_ref,
                                             latency_ms=latency_ms)
                    s.flush()
                    _, occ = repo.get_encounter(s, enc.id)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key won the race.
            replay = self._replay(who, idempotency_key, request_hash)
            if replay is None:
                raise
            return replay
        return EncounterResult(enc, tuple(occ), False)

    # -- 1:1 ----------------------------------------------------------------------------------
    def verify(self, who: Principal, live: bytes, document: bytes):
        a = self._decode(live, "live photo")
        b = self._decode(document, "document photo")
        result = self.engine.verify(a, b)
        with self.sessions.begin() as s:
            audit.append(s, self.clock.now(), who, "verify.1to1", "verification", None,
                         decision=result.decision.outcome.value,
                         score=round(result.comparison.fused, 4))
        return result

    # -- retention -----------------------------------------------------------------------------
    def purge(self) -> retention.PurgeReport:
        report = retention.run_once(self.sessions, self.blobs, self.clock,
                                    timedelta(seconds=self.settings.orphan_grace_s))
        if report.enrolments:
            with self._cache_lock:
                self._cache.clear()
        return report


def check_index_backend(name: str) -> None:
    if name not in registry.names("index"):
        raise ConfigError(f"unknown index backend {name!r}; have {registry.names('index')}")
