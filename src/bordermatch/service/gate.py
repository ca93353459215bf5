"""Gate encounters (a photo at a gate or a boarding door) and opt-outs.

Every face of the photo is searched through the gallery's index, its candidates re-scored
exactly (``service.galleries``), and decided by the one rule (``match.decide.identify``) at
the service's 1:N operating point: the same rule, scale and thresholds as a vehicle lane,
so one face gets one answer wherever it is seen.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bordermatch.errors import RecordStateError, TooManyFacesError
from bordermatch.io.images import encode_png
from bordermatch.match.decide import Identification, identify
from bordermatch.service.core import EncounterResult, PutBlob, ServiceCore, decision_basis
from bordermatch.store import repo
from bordermatch.store.keys import Principal
from bordermatch.types import FaceSample, Image, Reason


@dataclass(frozen=True, slots=True)
class FaceMatch:
    """One face's 1:N outcome before it is stored."""

    sample: FaceSample
    found: Identification

    @property
    def traveler_id(self) -> str | None:
        return self.found.traveler_id

    @property
    def decision(self) -> str:
        return self.found.decision.outcome.value


def search_faces(core: ServiceCore, gallery_id: str, samples: Sequence[FaceSample],
                 aliases: dict[str, set[str]]) -> list[FaceMatch]:
    """Each face decided on the whole gallery (in-process indexes: every template is in
    memory anyway, and an approximate FAISS index must not cost a match), or, with a
    shared index, on the travellers it shortlists for the photo, re-scored exactly
    (service.galleries): the same decision whenever the true rank-1 and runner-up are
    among the candidates, without this process loading the gallery."""
    if not samples:
        return []
    stored = core.gallery(gallery_id)
    queries = np.stack([smp.template(core.model).vector for smp in samples])
    if core.shared_index is None:
        search = stored.search
        scores, ids = search.scores(queries), search.ids
    else:
        short = stored.shortlist(queries, core.settings.search_candidates)
        scores, ids = short.scores, short.traveler_ids
    found = identify(core.calibrated(scores), ids, core.thresholds.search, aliases)
    return [FaceMatch(smp, f) for smp, f in zip(samples, found, strict=True)]


def gate_encounter(core: ServiceCore, who: Principal, gallery_id: str, lane: str,
                   direction: str, photo: bytes, idempotency_key: str | None,
                   request_hash: str, kind: str = "gate") -> EncounterResult:
    replay = core.replay(who, idempotency_key, request_hash)
    if replay is not None:
        return replay
    who.check_lane(lane)  # before any face work; commit() checks again
    with core.sessions() as s:
        g = repo.serving_gallery(s, who, gallery_id, lane, core.clock.now())
        if kind == "board" and g.kind != "flight":
            raise RecordStateError(f"gallery {gallery_id} is not a flight gallery: boarding "
                                   "matches only against a flight's manifest")
        aliases = repo.open_alias_pairs(s, gallery_id)
    image = core.decode(photo, "photo")
    samples = core.engine.samples(image, models=[core.model])
    limit = 1 if kind == "board" else core.settings.max_gate_faces
    if len(samples) > limit:
        raise TooManyFacesError(f"{len(samples)} faces in the photo; a {kind} photo may hold "
                                f"at most {limit}")
    matches = search_faces(core, gallery_id, samples, aliases)
    token = None
    if kind == "board" and any(m.decision == "match" for m in matches):
        # Opaque to the airline: it names nobody and is only valid for this encounter.
        token = secrets.token_urlsafe(24)
    return _store(core, who, gallery_id, lane, direction, kind, image, matches,
                  idempotency_key, request_hash, event_ref=token)


def board(core: ServiceCore, who: Principal, gallery_id: str, lane: str, photo: bytes,
          idempotency_key: str | None, request_hash: str) -> EncounterResult:
    """Boarding at a departure gate: an exit encounter whose token proves the match."""
    return gate_encounter(core, who, gallery_id, lane, "exit", photo, idempotency_key,
                          request_hash, kind="board")


def opt_out_encounter(core: ServiceCore, who: Principal, gallery_id: str, lane: str,
                      direction: str, traveler_id: str, idempotency_key: str | None,
                      request_hash: str) -> EncounterResult:
    """No capture at all: the traveller goes to manual inspection (a review item)."""
    replay = core.replay(who, idempotency_key, request_hash)
    if replay is not None:
        return replay
    who.check_lane(lane)
    with core.sessions() as s:
        repo.serving_gallery(s, who, gallery_id, lane, core.clock.now())
        # An id that is not enrolled here gets the same answer as one that is (no probing
        # for who exists); the inspection is queued for the person, linked to no one.
        enrolled = repo.is_enrolled(s, gallery_id, traveler_id)
    record = repo.OccupantRecord(track_id=0, traveler_id=traveler_id if enrolled else None,
                                 score=None,
                                 decision="manual_inspection", quality=None,
                                 reason=Reason.OPTED_OUT.value)
    return core.commit(who, gallery_id, lane, direction, "opt_out", [record],
                       idempotency_key, request_hash, lambda put: None)


def _store(core: ServiceCore, who: Principal, gallery_id: str, lane: str, direction: str,
           kind: str, image: Image, matches: Sequence[FaceMatch], idempotency_key: str | None,
           request_hash: str, event_ref: str | None = None) -> EncounterResult:
    now = core.clock.now()
    travelers = core.travelers([m.traveler_id for m in matches])
    records: list[repo.OccupantRecord] = []

    def write(put: PutBlob) -> None:
        if not matches:  # no usable face: a capture failure, recorded as such
            records.append(repo.OccupantRecord(0, None, None, "no_capture", None,
                                               reason=Reason.NO_CAPTURE.value))
        for i, m in enumerate(matches):
            t = travelers.get(m.traveler_id) if m.traveler_id else None
            if t is not None and t.opted_out:
                records.append(repo.OccupantRecord(i, t.id, None, "manual_inspection", None,
                                                   reason=Reason.OPTED_OUT.value))
                continue
            x1, y1, x2, y2 = (int(np.rint(v)) for v in m.sample.face.box)
            h, w = image.shape[:2]
            crop = image[max(0, y1):min(h, y2), max(0, x1):min(w, x2)]
            capture = put(encode_png(np.ascontiguousarray(crop)), "image") \
                if crop.size else None
            template = put(m.sample.template(core.model).vector.astype(np.float32)
                           .tobytes(), "template")
            records.append(repo.OccupantRecord(
                i, m.traveler_id, m.found.decision.score, m.decision,
                m.sample.quality.unified, capture_blob=capture, template_blob=template,
                purge_after=core.retention_until(now, t.citizen if t else None),
                reason=m.found.decision.reason.value, source=m.found.source,
                runner_up_id=m.found.runner_up_id,
                basis=decision_basis(core, m.found.decision, m.found.source,
                                     m.sample.quality)))

    return core.commit(who, gallery_id, lane, direction, kind, records, idempotency_key,
                       request_hash, write, event_ref)
