"""Enrolment: one traveller's document photo into a gallery, with the scan for one face
under two identities (an alias alert for an officer when another traveller scores at the
alias operating point)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from bordermatch.errors import InputError, RecordStateError
from bordermatch.service.core import ServiceCore
from bordermatch.store import audit, repo
from bordermatch.store.keys import Principal
from bordermatch.store.tables import Enrolment, Gallery, ReviewItem, Traveler
from bordermatch.types import FaceSample


@dataclass(frozen=True, slots=True)
class EnrolResult:
    enrolment: Enrolment
    alias_alerts: tuple[ReviewItem, ...]


@dataclass(frozen=True, slots=True)
class AliasHit:
    traveler_id: str
    score: float


def enrol(core: ServiceCore, who: Principal, gallery_id: str, bio: repo.Biographics,
          photo: bytes | None) -> EnrolResult:
    """Enrol one document of a traveller with its photo. A traveller already known must
    agree on names and citizenship (409 otherwise); a new document of theirs becomes another
    reference photo. ``bio.opt_out`` records the traveller's opt-out: every stored photo
    and template of theirs is deleted, in every gallery."""
    now = core.clock.now()
    with core.sessions() as s:
        g = repo.get_gallery(s, gallery_id)
        if g.status != "open":
            raise RecordStateError(f"gallery {gallery_id} is closed")
        known = s.get(Traveler, bio.traveler_id)
        opted_out = bio.opt_out or bool(known and known.opted_out)
    if bio.opt_out and known is not None:
        if not known.opted_out:
            opt_out(core, who, bio)
        with core.sessions() as s:
            held = repo.find_enrolment(s, gallery_id, bio)
        if held is not None:  # the opt-out of a traveller already enrolled here
            return EnrolResult(held, ())
    sample, alias = None, []
    if not opted_out:
        if photo is None:
            raise InputError("a photo is required unless the traveller opts out")
        image = core.decode(photo, "photo")
        sample = core.engine.primary_sample(image, [core.model], refuse_ambiguous=True)
        alias = alias_scan(core, gallery_id, sample, bio.traveler_id)
    return _store(core, who, now, gallery_id, bio, photo, sample, alias, with_document=True)


def add_reference(core: ServiceCore, who: Principal, gallery_id: str, traveler_id: str,
                  photo: bytes) -> EnrolResult:
    """Another photo of a traveller already enrolled in this gallery (no new document)."""
    now = core.clock.now()
    with core.sessions() as s:
        t = repo.get_traveler(s, traveler_id)
        bio = repo.Biographics(t.id, t.given_names, t.surname, t.document_type,
                               t.document_number, t.nationality, t.citizen)
        if t.opted_out:
            raise RecordStateError(f"traveller {traveler_id} opted out of biometric matching")
    image = core.decode(photo, "photo")
    sample = core.engine.primary_sample(image, [core.model], refuse_ambiguous=True)
    alias = alias_scan(core, gallery_id, sample, traveler_id)
    return _store(core, who, now, gallery_id, bio, photo, sample, alias, with_document=False)


def opt_out(core: ServiceCore, who: Principal, bio: repo.Biographics) -> None:
    """Delete every photo and template the traveller's opt-out covers, then the blobs."""
    with core.sessions.begin() as s:
        repo.enrol_traveler(s, core.clock.now(), bio)  # the same person, or 409
        blobs = repo.opt_out_traveler(s, who, core.clock.now(), bio.traveler_id)
    core.forget_galleries()
    for blob_id in blobs:
        core.blobs.delete(blob_id)


def _store(core: ServiceCore, who: Principal, now: datetime, gallery_id: str,
           bio: repo.Biographics, photo: bytes | None, sample: FaceSample | None,
           alias: list[AliasHit], with_document: bool) -> EnrolResult:
    with core.blob_batch() as put:
        photo_blob = template_blob = None
        if sample is not None and photo is not None:
            photo_blob = put(photo, "image")
            template_blob = put(sample.template(core.model).vector.astype(np.float32)
                                .tobytes(), "template")
        with core.sessions.begin() as s:
            return _rows(core, s, who, now, gallery_id, bio, sample, photo_blob, template_blob,
                         alias, with_document)


def _rows(core: ServiceCore, s: Session, who: Principal, now: datetime, gallery_id: str,
          bio: repo.Biographics, sample: FaceSample | None, photo_blob: str | None,
          template_blob: str | None, alias: list[AliasHit], with_document: bool,
          ) -> EnrolResult:
    g = s.get(Gallery, gallery_id)
    if g is None or g.status != "open":  # closed while we were embedding
        raise RecordStateError(f"gallery {gallery_id} is closed")
    e = repo.add_enrolment(
        s, who, now, g, bio, photo_blob, template_blob,
        core.model if sample is not None else None,
        sample.quality.unified if sample is not None else None,
        core.retention_until(now, bio.citizen) if sample is not None else None,
        with_document=with_document)
    point = core.thresholds.alias
    basis = {"reason": "alias", "threshold": point.match, "rate": point.rate,
             "target": point.target, "source": "enrolment"}
    items = tuple(repo.add_alias_alert(s, now, gallery_id, bio.traveler_id, m.traveler_id,
                                       m.score, {**basis, "score": m.score}) for m in alias)
    if items:
        audit.append(s, now, who, "review.alias", "traveler", bio.traveler_id,
                     others=[m.traveler_id for m in alias])
    return EnrolResult(e, items)


def alias_scan(core: ServiceCore, gallery_id: str, sample: FaceSample,
               traveler_id: str) -> list[AliasHit]:
    """The best-scoring other identity at the alias operating point, if any."""
    stored = core.gallery(gallery_id)
    n = len(stored.index)
    if n == 0:
        return []
    # References of the traveller being enrolled may fill the top: look a little deeper.
    cosines, refs = stored.index.search(sample.template(core.model).vector[None, :],
                                        min(n, 8))
    point = core.thresholds.alias
    for score, ref in zip(core.calibrated(cosines[0]), refs[0], strict=True):
        # A shared index may already hold an enrolment this process has not loaded yet.
        owner = stored.owners.get(ref)
        if owner is not None and owner != traveler_id and score >= point.match:
            return [AliasHit(owner, float(score))]
    return []
