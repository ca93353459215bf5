"""One review item: its page, its photos, and the officer's decision.

The page shows the capture beside every reference photo of every identity in question,
each with its score and the false match rate that score corresponds to, the reason in the
one decision path's terms (``reasons.py``), the quality measures and, for an encounter, its
lane, time and occupants. A fingerprint watchlist hit shows each print taken on the
handheld beside the subject's enrolled print it was matched to, with the per-finger and
fused Bozorth3 scores, the subject and its case reference. An officer decides with two
keys (``a`` or ``r``, then the number of a standard reason; ``review.js``) or with a reason
of their own. Reading the page and each photo is audited (``store.review_view``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from bordermatch.errors import BlobNotFoundError, RecordStateError, UnknownRecordError
from bordermatch.fingerprint.minutiae import FINGER_POSITIONS
from bordermatch.match.fusion import RateAt
from bordermatch.service.review import ReviewPage
from bordermatch.store.keys import Principal
from bordermatch.web import reasons
from bordermatch.web.pages import (
    KIND_LABELS,
    PREFIX,
    SECURITY_HEADERS,
    _checked_post,
    _error,
    _redirect,
    _render,
    _signed_in,
)
from bordermatch.web.sessions import WebSession

MAX_REASON = 2000  # as AdjudicationIn.reason
PHOTO_ID = re.compile(r"(ref|cap|doc|fpp|fpe)-[0-9a-f-]{36}")
ROLE_TITLES = {"traveler": "The identity it was matched to", "other": "The other identity",
               "holder": "The document's holder"}
# A fingerprint hit names a traveller only through the document the handheld read.
FINGERPRINT_ROLE_TITLES = {**ROLE_TITLES, "traveler": "The traveller the document names"}
QUALITY_LABELS = (("unified", "Unified quality (0-100)", "{:.0f}"),
                  ("sharpness", "Sharpness (0-100)", "{:.0f}"),
                  ("inter_eye_distance", "Eye distance (px)", "{:.0f}"),
                  ("yaw", "Yaw (deg)", "{:.0f}"), ("pitch", "Pitch (deg)", "{:.0f}"),
                  ("roll", "Roll (deg)", "{:.0f}"),
                  ("under_exposure", "Under-exposed", "{:.0%}"),
                  ("over_exposure", "Over-exposed", "{:.0%}"),
                  ("dynamic_range", "Dynamic range (bits)", "{:.1f}"))

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/items/{item_id}")
def item_page(request: Request, item_id: str) -> Response:
    state = _signed_in(request)
    if isinstance(state, Response):
        return state
    return _item(request, item_id, *state)


def _item(request: Request, item_id: str, who: Principal, session: WebSession,
          status: int = 200, message: str | None = None, reason: str = "") -> Response:
    svc = request.app.state.service
    try:
        page = svc.review_page(who, item_id)
    except UnknownRecordError:
        return _error(request, 404, "Not found", "There is no such review item.", who, session)
    return _render(request, "item.html", status, who=who, session=session,
                   item=page.record.item, kinds=KIND_LABELS, message=message, reason=reason,
                   max_reason=MAX_REASON, **context(page, svc.thresholds))


@router.get("/items/{item_id}/photos/{photo_id}")
def photo(request: Request, item_id: str, photo_id: str) -> Response:
    state = _signed_in(request)
    if isinstance(state, Response):
        return state
    if not PHOTO_ID.fullmatch(photo_id):
        return _error(request, 404, "Not found", "There is no such photo.", *state)
    svc = request.app.state.service
    try:
        data = svc.review_photo(state[0], item_id, photo_id)
    except (UnknownRecordError, BlobNotFoundError):  # purged since the page was read
        return _error(request, 404, "Not found", "That photo is not (or no longer) stored.",
                      *state)
    return Response(data, media_type=image_type(data), headers=SECURITY_HEADERS)


def image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "application/octet-stream"  # nosniff: the browser will not guess


@router.post("/items/{item_id}/decision")
def decide(request: Request, item_id: str,
           decision: Annotated[str, Form(max_length=10)] = "",
           reason: Annotated[str, Form(max_length=10 * MAX_REASON)] = "",
           preset: Annotated[str, Form(max_length=MAX_REASON + 10)] = "",
           csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    state = _checked_post(request, csrf)
    if isinstance(state, Response):
        return state
    who, session = state
    if preset:  # a standard reason's button: "accept|text" or "reject|text"
        decision, _, reason = preset.partition("|")
    reason = reason.strip()
    if decision not in ("accept", "reject"):
        return _item(request, item_id, who, session, 422, "Choose accept or reject.", reason)
    if not reason or len(reason) > MAX_REASON:
        return _item(request, item_id, who, session, 422,
                     f"Give a reason (at most {MAX_REASON} characters).", reason)
    svc = request.app.state.service
    try:
        svc.adjudicate(who, item_id, decision == "accept", reason)
    except UnknownRecordError:
        return _error(request, 404, "Not found", "There is no such review item.", who, session)
    except RecordStateError:
        return _item(request, item_id, who, session, 409,
                     "Someone has already decided this item.")
    return _redirect(f"{PREFIX}?done={item_id}")


# -- what the template shows ----------------------------------------------------------------
def fmr_text(rate: RateAt | None) -> str:
    if rate is None:
        return "unknown"
    if rate.relation == "<=":
        return f"at most {rate.fmr:.0e} (the strictest calibrated point)"
    if rate.relation == ">":
        return f"more than {rate.fmr:.0e} (below the loosest calibrated point)"
    return f"about {rate.fmr:.1e} (between {rate.lower:.0e} and {rate.upper:.0e})"


def _name(page: ReviewPage, tid: str | None) -> str:
    t = page.record.travelers.get(tid or "")
    return f"{t.given_names} {t.surname} ({tid})" if t else (tid or "nobody")


def _quality(measures: dict | None, unified: float | None) -> list[tuple[str, str]]:
    measures = dict(measures or {})
    if unified is not None:
        measures.setdefault("unified", unified)
    return [(label, fmt.format(measures[k])) for k, label, fmt in QUALITY_LABELS
            if measures.get(k) is not None]


def context(page: ReviewPage, thresholds) -> dict[str, Any]:
    """The page's values, formatted: the template only lays them out."""
    rec, basis = page.record, page.basis
    other = next((i.traveler_id for i in rec.identities if i.role == "other"), None)
    main = next((i.traveler_id for i in rec.identities if i.role != "other"), None)
    values = {**basis, "traveler": _name(page, main), "other": _name(page, other),
              "review": basis.get("review_threshold")}
    if rec.fingerprint is not None:  # Bozorth3 counts: whole numbers, not log-odds
        values |= {k: f"{basis[k]:g}" for k in ("score", "threshold")
                   if isinstance(basis.get(k), int | float)}
    explanation = reasons.explain(page.reason, values, basis.get("source"), basis.get("scale"))
    probe = None
    if page.probe:
        subject = rec.subject
        probe = {"id": page.probe, "state": page.photos.get(page.probe, "none"),
                 "label": "Capture" if page.probe.startswith("cap-")
                 else "Photo enrolled (raised the alert)",
                 "quality": _quality(basis.get("quality"),
                                     subject.quality if subject else None)}
    identities = []
    for ident in rec.identities:
        refs = []
        for e in ident.references:
            pid = f"ref-{e.id}"
            score = page.scores.get(pid)
            refs.append({"id": pid, "state": page.photos.get(pid, "none"), "score": score,
                         "fmr": fmr_text(page.fmr.get(score)) if score is not None else None,
                         "is_probe": pid == page.probe,
                         "document": " ".join(x for x in (e.document_type, e.document_number,
                                                          e.nationality) if x) or "photo only",
                         "enrolled": e.enrolled_at.strftime("%Y-%m-%d"),
                         "quality": f"{e.quality:.0f}" if e.quality is not None else None})
        decided = page.identity_scores.get(ident.traveler_id)
        titles = FINGERPRINT_ROLE_TITLES if rec.fingerprint is not None else ROLE_TITLES
        identities.append({"role": ident.role, "title": titles[ident.role],
                           "name": _name(page, ident.traveler_id), "traveler": ident.traveler,
                           "score": decided,
                           "fmr": fmr_text(page.fmr.get(decided)) if decided is not None
                           else None, "references": refs})
    score = basis.get("score")
    facts = {"score": score, "fmr": fmr_text(page.fmr.get(score)) if score is not None
             else None, "threshold": basis.get("threshold"), "rate": basis.get("rate"),
             "target": basis.get("target"), "review": basis.get("review_threshold"),
             "runner_up": basis.get("runner_up"), "source": basis.get("source"),
             "documents": basis.get("documents") or []}
    encounter = None
    if rec.encounter is not None:
        enc = rec.encounter
        occupants = []
        for o in rec.occupants:
            pid = f"cap-{o.id}"
            vs = page.scores.get(pid)
            occupants.append({"id": pid, "state": page.photos.get(pid, "none"),
                              "subject": rec.subject is not None and o.id == rec.subject.id,
                              "seat": o.seat or "unknown", "name": _name(page, o.traveler_id)
                              if o.traveler_id else "nobody matched",
                              "decision": o.decision, "reason": o.reason or "",
                              "score": o.score, "vs_holder": vs,
                              "quality": o.quality})
        encounter = {"kind": enc.kind, "lane": enc.lane, "direction": enc.direction,
                     "at": enc.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                     "seat": rec.subject.seat if rec.subject else None,
                     "occupants": occupants, "vehicle": enc.kind == "vehicle"}
    documents = [{"id": f"doc-{d.id}", "state": page.photos.get(f"doc-{d.id}", "none"),
                  "label": "Photo on the document ("
                           + ("chip" if d.source == "chip" else "data page") + ")",
                  "document": f"{d.document_type} {d.document_number} ({d.nationality})",
                  "passive_auth": d.passive_auth, "reasons": list(d.reasons or [])}
                 for d in page.record.documents]
    calibration = thresholds.calibration
    return {"explanation": explanation, "probe": probe, "identities": identities,
            "documents": documents, "fingerprint": _fingerprint(page),
            "facts": facts, "encounter": encounter, "gallery": rec.gallery,
            "presets": reasons.presets(rec.item.kind),
            "scale": {"model": calibration.name,
                      "comparisons": calibration.impostor_comparisons}}


def _finger_name(position: int | None) -> str:
    return FINGER_POSITIONS.get(position, "unknown") if position is not None else "unknown"


def _fingerprint(page: ReviewPage) -> dict[str, Any] | None:
    """A watchlist hit: the subject, the fused score, and one row per probe finger with
    its print, the enrolled print of the finger it was matched to, and their score."""
    hit = page.record.fingerprint
    if hit is None:
        return None
    fingers = []
    for p in hit.probes:
        enrolled = hit.enrolled_at(p.matched_position)
        probe = {"id": f"fpp-{p.id}", "state": page.photos.get(f"fpp-{p.id}", "none"),
                 "label": f"Print taken on the handheld: finger {p.finger + 1}, "
                          f"{_finger_name(p.position)}"}
        candidate = None
        if enrolled is not None:
            candidate = {"id": f"fpe-{enrolled.id}",
                         "state": page.photos.get(f"fpe-{enrolled.id}", "none"),
                         "label": f"Enrolled print of {hit.search.subject_id}: "
                                  f"{_finger_name(enrolled.position)}",
                         "quality": enrolled.quality}
        fingers.append({"finger": p.finger + 1, "position": _finger_name(p.position),
                        "quality": p.quality, "score": p.score,
                        "matched": _finger_name(p.matched_position)
                        if p.matched_position is not None else None,
                        "best": hit.shown_finger is not None and p.id == hit.shown_finger.id,
                        "probe": probe, "candidate": candidate})
    subject = hit.subject
    return {"subject_id": hit.search.subject_id,
            "reference": subject.reference if subject else None,
            "enrolled_by": subject.enrolled_by if subject else None,
            "lane": hit.search.lane, "at": hit.search.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "score": hit.search.score, "threshold": hit.search.threshold,
            "comparisons": hit.search.comparisons, "fingers": fingers}
