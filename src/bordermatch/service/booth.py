"""The booth's (and kiosk's) 1:1 check: a travel document read there, and a live photo.

The document is either the chip (DG1, DG2 and EF.SOD, EF.COM optional) or the MRZ the booth
read from the data page together with a photo of that page. The chip is parsed and passively
authenticated against the service's trust store (``documents.chip``); the MRZ is checked
field by field; the live face is compared with the chip's photo (or the data page's) by the
face engine and decided by the one rule of ``match.decide`` at the service's 1:1 point, as
``/v1/verify`` does. The document names its gallery traveller by (document number,
nationality), as a lane's document read does.

Every finding about the document sends the traveller to an officer whatever the face says:
a tampered, untrusted or unsupported chip, a chip MRZ that fails a check, an expired
document, a document photo without a face; so does a face that does not match. The booth
records the encounter (kind ``booth`` or ``kiosk``), its occupant, the document read and, in
one transaction with them, a crossing for a match or a review item naming the worst finding.
A bad upload (corrupt DG2, malformed TLV, an MRZ typed or scanned with a failing check) is
refused before anything is stored: it is a misread to redo, not a finding about anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from bordermatch.documents import lds
from bordermatch.documents.chip import read_chip
from bordermatch.documents.mrz import MrzFields, MrzResult
from bordermatch.documents.mrz import parse as parse_mrz
from bordermatch.documents.passive_auth import PassiveAuthResult
from bordermatch.errors import DocumentReadError, InvalidMrzError, NoFaceError, RecordStateError
from bordermatch.io.images import encode_png
from bordermatch.match.engine import SubjectSample, Verification
from bordermatch.service.core import EncounterResult, PutBlob, ServiceCore
from bordermatch.store import document_reads, repo
from bordermatch.store.document_reads import DocumentReadRecord
from bordermatch.store.keys import Principal
from bordermatch.store.tables import DocumentRead, Encounter, Occupant
from bordermatch.types import Image, Outcome, Reason

REQUIRED_CHIP_FILES: tuple[str | int, ...] = (1, 2, "sod")
_CHIP_STATUS = {"tampered": Reason.TAMPERED_CHIP, "untrusted": Reason.UNTRUSTED_CHIP,
                "unsupported": Reason.UNSUPPORTED_CHIP}


@dataclass(frozen=True, slots=True)
class BoothUpload:
    """What a booth or kiosk sent: chip files ("com", "sod" and data group numbers) or the
    MRZ lines with a photo of the data page; and the live photo."""

    live: bytes
    chip: dict[str | int, bytes] | None = None
    mrz_lines: tuple[str, ...] | None = None
    data_page: bytes | None = None

    def __post_init__(self) -> None:
        has_chip, has_mrz = bool(self.chip), bool(self.mrz_lines) or self.data_page is not None
        if has_chip == has_mrz:
            raise DocumentReadError("send either the chip files (dg1, dg2, ef_sod; ef_com "
                                    "optional) or an MRZ with a data-page photo, not "
                                    + ("both" if has_chip else "neither"))
        if self.chip:
            missing = [k for k in REQUIRED_CHIP_FILES if k not in self.chip]
            if missing:
                raise DocumentReadError("a chip read needs dg1, dg2 and ef_sod; missing "
                                        + ", ".join(_part_name(k) for k in missing))
        elif not self.mrz_lines or self.data_page is None:
            raise DocumentReadError("an MRZ read needs both the mrz lines and the data_page "
                                    "photo")


def _part_name(key: str | int) -> str:
    return f"ef_{key}" if isinstance(key, str) else f"dg{key}"


@dataclass(frozen=True, slots=True)
class BoothResult:
    encounter: Encounter
    occupant: Occupant
    read: DocumentRead
    replayed: bool


@dataclass(frozen=True, slots=True, eq=False)
class DocumentCheck:
    source: str  # chip | mrz
    mrz: MrzResult
    fields: MrzFields
    passive_auth: PassiveAuthResult | None
    image: Image  # the photo the live face is compared with (chip photo or data page)


def check_document(core: ServiceCore, upload: BoothUpload, now: datetime) -> DocumentCheck:
    """Parse and check the document; raises a named 4xx error for anything unreadable."""
    if upload.chip:
        chip = read_chip(upload.chip, core.trust.store(), at=now, today=now.date())
        image = lds.decode_face(chip.faces[0])  # corrupt or cut off: a named error
        if chip.mrz.fields is None:  # DG1's length fixes the layout, so this cannot happen
            raise DocumentReadError("DG1 holds no MRZ of a known layout")
        return DocumentCheck("chip", chip.mrz, chip.mrz.fields, chip.passive_auth, image)
    assert upload.mrz_lines is not None and upload.data_page is not None  # __post_init__
    result = parse_mrz(upload.mrz_lines, today=now.date())
    if not result.valid or result.fields is None:
        raise InvalidMrzError("the MRZ fails its checks (read it again): " + "; ".join(
            f"{c.field} {c.code}: {c.detail}" for c in result.errors))
    return DocumentCheck("mrz", result, result.fields, None,
                         core.decode(upload.data_page, "data-page photo"))


def findings(check: DocumentCheck, face: Verification | None) -> list[str]:
    """Every reason to send the traveller to an officer, the worst first (empty: a match)."""
    out: list[str] = []
    pa = check.passive_auth
    if pa is not None and pa.status in _CHIP_STATUS:
        out.append(_CHIP_STATUS[pa.status].value)
    if not check.mrz.valid:
        out.append(Reason.INVALID_MRZ.value)
    if check.mrz.expired:
        out.append(Reason.EXPIRED_DOCUMENT.value)
    if face is None:
        out.append(Reason.NO_DOCUMENT_FACE.value)
    elif face.decision.outcome is Outcome.NO_MATCH:
        out.append(Reason.NO_MATCH.value)
    elif face.decision.outcome is Outcome.REVIEW:
        out.append(face.decision.reason.value)
    return out


def booth_verify(core: ServiceCore, who: Principal, gallery_id: str, lane: str,
                 direction: str, upload: BoothUpload, idempotency_key: str | None,
                 request_hash: str) -> BoothResult:
    replay = core.replay(who, idempotency_key, request_hash)
    if replay is not None:
        return _result(core, replay)
    who.check_lane(lane)  # before any work; commit() checks again
    now = core.clock.now()
    with core.sessions() as s:
        repo.serving_gallery(s, who, gallery_id, lane, now)
    check = check_document(core, upload, now)
    with core.sessions() as s:
        traveler = document_reads.traveler_for_document(
            s, gallery_id, check.fields.document_number, check.fields.nationality)
        citizen = traveler.citizen if traveler else None
        traveler_id = traveler.id if traveler else None
        opted_out = bool(traveler and traveler.opted_out)
    engine = core.engine
    live_image = core.decode(upload.live, "live photo")
    try:
        live = engine.subject_sample(live_image)
    except NoFaceError as exc:
        raise NoFaceError(f"live photo: {exc}") from None
    document: SubjectSample | None
    try:
        document = engine.subject_sample(check.image)
    except NoFaceError:
        document = None  # a finding about the document, not a bad upload
    face = (engine.verify_subjects(live_image, live, check.image, document)
            if document is not None else None)
    reasons = findings(check, face)
    if opted_out:
        decision, reasons = "manual_inspection", [Reason.OPTED_OUT.value, *reasons]
    else:
        decision = "review" if reasons else "match"
    purge_after = core.retention_until(now, citizen)
    records: list[repo.OccupantRecord] = []
    reads: list[DocumentReadRecord] = []

    def write(put: PutBlob) -> None:
        capture = photo = None
        if not opted_out:  # an opted-out traveller's photos are not kept (as at a gate)
            capture = put(encode_png(_crop(live_image, live.sample.face.box)), "image")
            if check.source == "chip":
                photo = put(encode_png(np.ascontiguousarray(check.image)), "image")
            elif document is not None:  # the data page's portrait, not the whole page
                photo = put(encode_png(_crop(check.image, document.sample.face.box)), "image")
        records.append(repo.OccupantRecord(
            0, traveler_id, face.comparison.fused if face else None, decision,
            live.sample.quality.unified, capture_blob=capture,
            purge_after=purge_after if capture else None,
            reason=reasons[0] if reasons else Reason.ABOVE_THRESHOLD.value, source="document"))
        reads.append(_read_record(check, reasons, face, photo,
                                  purge_after if photo else None))

    kind = who.role.removesuffix("_device")  # booth | kiosk
    result = core.commit(who, gallery_id, lane, direction, kind, records, idempotency_key,
                         request_hash, write, document_reads=reads)
    return _result(core, result)


def _crop(image: Image, box: NDArray[np.float32]) -> Image:
    x1, y1, x2, y2 = (int(np.rint(v)) for v in box)
    h, w = image.shape[:2]
    crop = image[max(0, y1):min(h, y2), max(0, x1):min(w, x2)]
    return np.ascontiguousarray(crop if crop.size else image)


def _read_record(check: DocumentCheck, reasons: list[str], face: Verification | None,
                 photo: str | None, purge_after: datetime | None) -> DocumentReadRecord:
    f = check.fields
    pa = check.passive_auth
    return DocumentReadRecord(
        track_id=0, source=check.source, document_type=f.document_code,
        document_number=f.document_number, nationality=f.nationality,
        issuing_state=f.issuing_state,
        expiry_date=f.expiry_date.isoformat() if f.expiry_date else None,
        expired=bool(check.mrz.expired), mrz_valid=check.mrz.valid,
        mrz_checks=[c.to_dict() for c in check.mrz.checks],
        passive_auth=pa.status if pa else None,
        passive_auth_details=list(pa.details) if pa else [], reasons=reasons,
        face_decision=face.decision.outcome.value if face else None,
        photo_blob=photo, purge_after=purge_after)


def _result(core: ServiceCore, result: EncounterResult) -> BoothResult:
    with core.sessions() as s:
        read = document_reads.document_read_of(s, result.encounter.id)
    if read is None or len(result.occupants) != 1:
        raise RecordStateError("Idempotency-Key was already used for a different request")
    return BoothResult(result.encounter, result.occupants[0], read, result.replayed)
