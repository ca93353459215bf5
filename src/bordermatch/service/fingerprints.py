"""Handheld fingerprint searches against the watchlist, and watchlist enrolment.

A search decodes every finger (PNG, TIFF, JPEG, WSQ, or an ISO/IEC 19794-2 template), scores
each image with NFIQ 2, and asks for a recapture when any finger is below
``fingerprint_min_nfiq2`` (nothing is searched or stored but the scores). Otherwise it
extracts MINDTCT templates, searches the loaded watchlist (pre-filter, then Bozorth3, fused
per subject over the fingers) and decides through the one rule (``match.decide.decide``)
at an FPIR operating point: the fused threshold for ``fingerprint_fpir`` at this probe's
fingers and this watchlist's size (``fingerprint.watchlist.threshold_for_fpir``). A hit
becomes a review item for an officer; the device learns only hit / no_hit / recapture.

NBIS work (NFIQ 2, MINDTCT, Bozorth3) runs under one process-wide lock (``NBIS_LOCK``):
the binding calls the C library through ctypes, which releases the GIL, and NBIS's C code
keeps work arrays in globals, so two requests must not run it at once.

Work order as in ``service.core``: pure work first, blobs second, the rows with their audit
entry last in one transaction (blobs deleted again if it fails).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from bordermatch.errors import (
    InputError,
    MetricError,
    PoorCaptureError,
    RecordStateError,
    TemplateError,
    UnsupportedImageError,
)
from bordermatch.fingerprint.capture import FingerprintImage, decode_fingerprint
from bordermatch.fingerprint.match import load_calibration
from bordermatch.fingerprint.minutiae import (
    FingerTemplate,
    decode_iso,
    encode_iso,
    extract_template,
    finger_position,
)
from bordermatch.fingerprint.quality import Nfiq2Assessor
from bordermatch.fingerprint.watchlist import SearchResult, Watchlist, threshold_for_fpir
from bordermatch.match.decide import OperatingPoint, decide
from bordermatch.service.core import ServiceCore
from bordermatch.service.watchlist import NBIS_LOCK
from bordermatch.store import fingerprints as fpstore
from bordermatch.store.keys import Principal
from bordermatch.store.tables import FingerprintSearch, WatchlistSubject
from bordermatch.types import Outcome

MAX_FINGERS = 10
ISO_MAGIC = b"FMR\x00 20\x00"
FUSED_MODEL = "bozorth3_sum"  # the watchlist's fused score: Bozorth3 summed over fingers


@dataclass(frozen=True, slots=True)
class FingerUpload:
    name: str
    data: bytes
    position: int  # ISO/IEC 19794-2 finger code as declared by the device


@dataclass(frozen=True, slots=True)
class Capture:
    finger: int  # order in the request, from 0
    position: int
    # NFIQ 2 of an image; a template's own finger quality; None for a template that has none.
    quality: int | None
    image: FingerprintImage | None
    template: FingerTemplate | None  # given as a template, or extracted later

    def extracted(self) -> FingerTemplate:
        if self.template is not None:
            return self.template
        assert self.image is not None  # a capture is an image or a template
        return extract_template(self.image, self.position, self.quality or 0)


@dataclass(frozen=True, slots=True)
class FingerQuality:
    finger: int
    position: int
    quality: int | None


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    search: FingerprintSearch
    fingers: tuple[FingerQuality, ...]
    recapture: tuple[FingerQuality, ...]  # the fingers below the quality floor
    min_quality: int
    replayed: bool = False


def parse_positions(text: str, count: int) -> list[int]:
    """Finger codes (0-10) or names, comma-separated, one per finger sent."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if len(parts) != count:
        raise InputError(f"{count} finger(s) sent but {len(parts)} position(s) given; send one "
                         "ISO/IEC 19794-2 finger code per finger, comma-separated")
    return [finger_position(p) for p in parts]


def capture(core: ServiceCore, uploads: Sequence[FingerUpload], allow_templates: bool
            ) -> list[Capture]:
    """Decode and score every finger, or raise the named error of the first bad one."""
    if not 1 <= len(uploads) <= MAX_FINGERS:
        raise InputError(f"send 1-{MAX_FINGERS} fingers, not {len(uploads)}")
    limits = core.settings.limits.model_copy(update={"max_image_pixels": min(
        core.settings.fingerprint_max_pixels, core.settings.limits.max_image_pixels)})
    out = []
    for i, u in enumerate(uploads):
        if u.data.startswith(ISO_MAGIC):
            if not allow_templates:
                raise UnsupportedImageError(f"{u.name}: enrolment takes finger images, not "
                                            "templates (the officer sees the enrolled print)")
            t = decode_iso(u.data)
            if t.position not in (0, u.position):
                raise TemplateError(f"{u.name}: the template says finger {t.position}, the "
                                    f"request says {u.position}")
            out.append(Capture(i, u.position, t.finger_quality or None, None,
                               t.with_position(u.position)))
            continue
        image = decode_fingerprint(u.data, limits=limits, name=u.name)
        quality = Nfiq2Assessor().assess_encoded(image.png_bytes(), u.name)
        out.append(Capture(i, u.position, quality.score, image, None))
    return out


def fused_point(core: ServiceCore, wl: Watchlist, positions: Sequence[int]) -> OperatingPoint:
    """The FPIR operating point of a search with these probe positions on this watchlist.

    Where the target lies beyond what the calibration's impostor scores resolve (one finger
    against thousands of subjects), the threshold is the fused score no impostor pair of the
    calibration reached: stricter than the target, never looser."""
    cal = load_calibration()
    fpir = core.settings.fingerprint_fpir
    n = len(positions)
    try:
        threshold = threshold_for_fpir(cal.impostor_scores(), n, wl.trials(positions), fpir)
        basis = "fpir"
    except MetricError:
        threshold = float(n * (len(cal.impostor_histogram) - 1) + 1)
        basis = "beyond_calibration"
    return OperatingPoint(FUSED_MODEL, "FPIR", fpir, threshold, samples=cal.n_impostor,
                          provenance=f"{cal.algorithm} impostor histogram, {basis}")


def replay(core: ServiceCore, who: Principal, key: str | None, request_hash: str
           ) -> SearchOutcome | None:
    """The stored answer to a retry (same device key, Idempotency-Key and content)."""
    if key is None:
        return None
    with core.sessions() as s:
        found = fpstore.find_idempotent_search(s, who.key_id, key)
        if found is None:
            return None
        if found.request_hash != request_hash:
            raise RecordStateError("Idempotency-Key was already used for a different request")
        _, probes = fpstore.get_search(s, found.id)
    floor = core.settings.fingerprint_min_nfiq2
    fingers = tuple(FingerQuality(p.finger, p.position, p.quality) for p in probes)
    poor = tuple(f for f in fingers if found.decision == "recapture"
                 and f.quality is not None and f.quality < floor)
    return SearchOutcome(found, fingers, poor, floor, replayed=True)


def search(core: ServiceCore, who: Principal, lane: str, uploads: Sequence[FingerUpload],
           document: tuple[str, str] | None, citizen: bool | None,
           idempotency_key: str | None = None, request_hash: str = "") -> SearchOutcome:
    t0 = time.perf_counter()
    who.check_lane(lane)  # before any fingerprint work
    again = replay(core, who, idempotency_key, request_hash)
    if again is not None:
        return again
    traveler_id = None
    if document is not None:
        with core.sessions() as s:
            t = fpstore.traveler_by_document(s, *document)
        if t is not None:
            traveler_id = t.id
            citizen = bool(citizen or t.citizen)  # either says citizen: the shorter retention
    floor = core.settings.fingerprint_min_nfiq2
    with NBIS_LOCK:
        captures = capture(core, uploads, allow_templates=True)
        poor = tuple(c for c in captures if c.quality is not None and c.quality < floor)
        if not poor:
            templates = [c.extracted() for c in captures]
            wl = core.watchlist.current()
            result: SearchResult | None = None
            point = None
            if len(wl):
                point = fused_point(core, wl, [c.position for c in captures])
                result = wl.search(templates, point.match)
    if poor:
        rec = fpstore.SearchRecord(lane, "recapture", [
            fpstore.ProbeRecord(c.finger, c.position, c.quality) for c in captures],
            traveler_id=traveler_id, citizen=citizen,
            latency_ms=1e3 * (time.perf_counter() - t0), idempotency_key=idempotency_key,
            request_hash=request_hash or None)
        return _commit(core, who, rec, captures, poor, lambda put: None)
    hit = result is not None and result.best is not None and point is not None and \
        decide(result.best.score, point).outcome is Outcome.MATCH
    best = result.best if hit and result is not None else None
    scores = {f.probe_index: f for f in best.fingers} if best else {}
    now = core.clock.now()
    purge_after = core.retention_until(now, citizen)
    probes: list[fpstore.ProbeRecord] = []

    def write(put) -> None:
        for c, t in zip(captures, templates, strict=True):
            f = scores.get(c.finger)
            image = put(c.image.png_bytes(), "image") if c.image is not None else None
            probes.append(fpstore.ProbeRecord(
                c.finger, c.position, c.quality, f.score if f else None,
                f.position if f else None, image, put(encode_iso(t), "template"),
                purge_after))

    rec = fpstore.SearchRecord(
        lane, "hit" if best else "no_hit", probes, best.subject_id if best else None,
        best.score if best else None, point.match if point else None, traveler_id, citizen,
        result.comparisons if result else 0, 1e3 * (time.perf_counter() - t0),
        idempotency_key, request_hash or None, rate=point.rate if point else None,
        target=point.target if point else None)
    return _commit(core, who, rec, captures, (), write)


def _commit(core: ServiceCore, who: Principal, rec: fpstore.SearchRecord,
            captures: Sequence[Capture], poor: tuple[Capture, ...], write) -> SearchOutcome:
    try:
        with core.blob_batch() as put:
            write(put)  # fills rec.probes (the list) before the rows are written
            with core.sessions.begin() as s:
                found, _ = fpstore.add_search(s, who, core.clock.now(), rec)
    except IntegrityError:
        # A concurrent retry with the same Idempotency-Key won the race.
        again = replay(core, who, rec.idempotency_key, rec.request_hash or "")
        if again is None:
            raise
        return again
    def row(c: Capture) -> FingerQuality:
        return FingerQuality(c.finger, c.position, c.quality)

    return SearchOutcome(found, tuple(map(row, captures)), tuple(map(row, poor)),
                         core.settings.fingerprint_min_nfiq2)


# -- enrolment --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EnrolFinger:
    position: int
    template: FingerTemplate
    quality: int
    image_png: bytes | None  # the print the officer compares a hit with


def enrol_images(core: ServiceCore, who: Principal, subject_id: str, reference: str,
                 uploads: Sequence[FingerUpload]) -> WatchlistSubject:
    """A supervisor enrols a subject from 1-10 finger images (each at least the NFIQ 2
    floor: a poor enrolled print would miss its mate, or match strangers)."""
    _check_positions([u.position for u in uploads])
    floor = core.settings.fingerprint_min_nfiq2
    with NBIS_LOCK:
        captures = capture(core, uploads, allow_templates=False)
        for c in captures:
            if c.quality is not None and c.quality < floor:
                raise PoorCaptureError(f"{uploads[c.finger].name}: NFIQ 2 score {c.quality} "
                                       f"is below {floor}; enrol a better print of finger "
                                       f"{c.position}")
        fingers = []
        for c in captures:
            assert c.image is not None and c.quality is not None  # images only, scored above
            fingers.append(EnrolFinger(c.position, c.extracted(), c.quality,
                                       c.image.png_bytes()))
    return enrol_templates(core, who, subject_id, reference, fingers)


def enrol_templates(core: ServiceCore, who: Principal, subject_id: str, reference: str,
                    fingers: Sequence[EnrolFinger]) -> WatchlistSubject:
    """Store the subject's fingers encrypted, audited, and put them in the loaded list."""
    _check_positions([f.position for f in fingers])
    if any(len(f.template) == 0 for f in fingers):
        raise TemplateError(f"subject {subject_id}: a finger without minutiae cannot be "
                            "searched for")
    templates = {f.position: f.template for f in fingers}
    with core.blob_batch() as put:
        records = [fpstore.FingerRecord(
            f.position, f.quality, put(encode_iso(f.template), "template"),
            put(f.image_png, "image") if f.image_png is not None else None) for f in fingers]
        with core.sessions.begin() as s:
            before = fpstore.watchlist_state(s)
            subject = fpstore.add_subject(s, who, core.clock.now(), subject_id, reference,
                                          records)
            after = fpstore.watchlist_state(s)
            # Built before the commit so that no search waits for it afterwards.
            with NBIS_LOCK:
                prepared = core.watchlist.prepare_with(before, subject_id, templates)
    core.watchlist.swap(before, prepared, after)
    return subject


def _check_positions(positions: Sequence[int]) -> None:
    if not 1 <= len(positions) <= MAX_FINGERS:
        raise InputError(f"a subject has 1-{MAX_FINGERS} fingers, not {len(positions)}")
    if any(p == 0 for p in positions):
        raise InputError("enrolled fingers need a known finger position (1-10)")
    if len(set(positions)) != len(positions):
        raise InputError("each finger position may be enrolled once")
