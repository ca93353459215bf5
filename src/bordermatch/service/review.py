"""One review item as the officer's page shows it: the identities in question with every
reference photo, each photo's score against the capture, the false match rate a score
corresponds to, and the reason in the one decision path's terms (``match.decide``).

Scores come from the stored templates (the capture's and each reference's), on the same
calibrated scale the decision used (``ServiceThresholds.scale``); the FMR of a score is read
off the search recognizer's 1:1 calibration (``Matcher.fmr_at``). Nothing here decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bordermatch.errors import StorageError
from bordermatch.match.fusion import RateAt
from bordermatch.service.core import ServiceCore
from bordermatch.store import review_view
from bordermatch.store.keys import Principal
from bordermatch.store.review_view import ReviewRecord, photo_state


@dataclass(frozen=True, slots=True)
class ReviewPage:
    record: ReviewRecord
    reason: str  # the page's reason code (web/reasons.py has the sentences)
    basis: dict  # ReviewItem.basis, completed from the occupant row for older items
    photos: dict[str, str]  # page photo id -> "stored" | "purged" | "opted_out" | "none"
    scores: dict[str, float] = field(default_factory=dict)  # photo id -> score vs the probe
    identity_scores: dict[str, float] = field(default_factory=dict)  # traveller -> decided
    fmr: dict[float, RateAt] = field(default_factory=dict)  # every score shown -> its FMR
    probe: str | None = None  # the photo id the references were scored against


def reason_of(kind: str, basis: dict | None, occupant_reason: str | None = None) -> str:
    """The reason an item is for review: the decision's reason for encounters (from the
    item's basis, else its occupant row), the kind for items raised elsewhere (an alias
    alert at enrolment, an unmatched document, a tampered chip, a fingerprint hit)."""
    if kind in ("encounter", "manual_inspection"):
        reason = (basis or {}).get("reason") or occupant_reason
        return str(reason or ("opted_out" if kind == "manual_inspection" else "review_band"))
    return {"alias": "alias_alert"}.get(kind, kind)


def reason_code(rec: ReviewRecord) -> str:
    return reason_of(rec.item.kind, rec.item.basis, rec.subject.reason if rec.subject else None)


def review_page(core: ServiceCore, who: Principal, item_id: str) -> ReviewPage:
    with core.sessions.begin() as s:
        rec = review_view.read_review(s, who, core.clock.now(), item_id)
    photos = _photo_states(core, rec)
    basis = dict(rec.item.basis or {})
    if rec.subject is not None:
        basis.setdefault("score", rec.subject.score)
        basis.setdefault("source", rec.subject.source)
    if basis.get("score") is None and rec.item.score is not None:
        basis["score"] = rec.item.score
    if rec.fingerprint is not None:
        # Bozorth3 scores are on their own scale: no face score, FMR or probe applies.
        basis.setdefault("threshold", rec.fingerprint.search.threshold)
        return ReviewPage(rec, reason_code(rec), basis, photos)
    probe, vector = _probe(core, rec, photos)
    scores = _reference_scores(core, rec, vector, exclude=probe) if vector is not None else {}
    identity_scores = {}
    for ident in rec.identities:
        if ident.role in ("traveler", "holder") and basis.get("score") is not None:
            identity_scores[ident.traveler_id] = float(basis["score"])
        elif ident.role == "other" and basis.get("runner_up") is not None:
            identity_scores[ident.traveler_id] = float(basis["runner_up"])
    if rec.item.kind == "unmatched_document":
        scores |= _occupants_against_holder(core, rec, photos)
    shown = [*scores.values(), *identity_scores.values(), *(o.score for o in rec.occupants)]
    fmr = {x: core.thresholds.fmr_at(x) for x in shown if x is not None}
    return ReviewPage(rec, reason_code(rec), basis, photos, scores, identity_scores, fmr,
                      probe)


def review_photo(core: ServiceCore, who: Principal, item_id: str, photo_id: str) -> bytes:
    """One photo of a review item (the access is audited)."""
    with core.sessions.begin() as s:
        blob_id = review_view.review_photo_blob(s, who, core.clock.now(), item_id, photo_id)
    return core.blobs.get(blob_id, kind="image")


# -- helpers ------------------------------------------------------------------------------
def _photo_states(core: ServiceCore, rec: ReviewRecord) -> dict[str, str]:
    out = {}
    for ident in rec.identities:
        for e in ident.references:
            out[f"ref-{e.id}"] = photo_state(e.photo_blob, e.purged_at, e.status)
    for o in rec.occupants:
        out[f"cap-{o.id}"] = photo_state(o.capture_blob, o.purged_at)
    for d in rec.documents:
        out[f"doc-{d.id}"] = photo_state(d.photo_blob, d.purged_at)
    if rec.fingerprint is not None:
        for p in rec.fingerprint.probes:
            out[f"fpp-{p.id}"] = photo_state(p.image_blob, p.purged_at)
        for f in rec.fingerprint.enrolled:
            out[f"fpe-{f.id}"] = photo_state(f.image_blob, None)
    blobs = review_view.photo_blobs(rec)
    for pid, state in out.items():
        # A row that names a blob the store no longer has (a purge raced this page) must
        # not become a broken image: it shows as purged.
        if state == "stored" and not core.blobs.exists(blobs[pid]):
            out[pid] = "purged"
    return out


def _template(core: ServiceCore, blob: str | None) -> np.ndarray | None:
    if not blob:
        return None
    try:
        return np.frombuffer(core.blobs.get(blob, kind="template"), np.float32)
    except (StorageError, OSError):
        return None  # purged meanwhile, or unreadable: no score rather than a wrong one


def _probe(core: ServiceCore, rec: ReviewRecord, photos: dict[str, str],
           ) -> tuple[str | None, np.ndarray | None]:
    """The face the references are scored against: the capture for an encounter, the
    newest reference of the traveller for an alias alert (the enrolment that raised it)."""
    if rec.subject is not None:
        return f"cap-{rec.subject.id}", _template(core, rec.subject.template_blob)
    if rec.item.kind == "alias":
        mine = next((i for i in rec.identities if i.role == "traveler"), None)
        refs = [e for e in (mine.references if mine else ()) if e.template_blob
                and e.template_model == core.model]
        if refs:
            return f"ref-{refs[-1].id}", _template(core, refs[-1].template_blob)
    return None, None


def _reference_scores(core: ServiceCore, rec: ReviewRecord, probe: np.ndarray,
                      exclude: str | None) -> dict[str, float]:
    out = {}
    for ident in rec.identities:
        for e in ident.references:
            pid = f"ref-{e.id}"
            if pid == exclude or e.template_model != core.model:
                continue
            ref = _template(core, e.template_blob)
            if ref is not None and ref.shape == probe.shape:
                out[pid] = float(core.calibrated(np.asarray(ref @ probe, np.float32)))
    return out


def _occupants_against_holder(core: ServiceCore, rec: ReviewRecord, photos: dict[str, str],
                              ) -> dict[str, float]:
    """Each occupant's best score against the holder's references: how close the nearest
    face in the vehicle came to the person whose document was read."""
    holder = next((i for i in rec.identities if i.role == "holder"), None)
    refs = [t for e in (holder.references if holder else ())
            if e.template_model == core.model and (t := _template(core, e.template_blob))
            is not None]
    out = {}
    for o in rec.occupants:
        probe = _template(core, o.template_blob)
        if probe is not None and refs:
            best = max((float(r @ probe) for r in refs if r.shape == probe.shape), default=None)
            if best is not None:
                out[f"cap-{o.id}"] = float(core.calibrated(np.asarray(best, np.float32)))
    return out
