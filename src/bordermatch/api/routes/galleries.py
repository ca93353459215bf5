"""/v1/galleries: create, list, fetch, close; enrol one traveller or a whole manifest."""

from __future__ import annotations

import contextlib
import csv
import io
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from bordermatch.api.auth import Admin, Enroller
from bordermatch.api.deps import (
    FormOnly,
    ManifestMultipart,
    Service,
    image_work,
    read_image,
    read_upload,
)
from bordermatch.api.schemas import (
    EnrolmentOut,
    GalleryCreate,
    GalleryOut,
    ManifestReport,
    ManifestRowOut,
)
from bordermatch.api.strings import FormText, PathId, QueryText, unstorable_reason
from bordermatch.errors import BordermatchError, InputError, ManifestError
from bordermatch.io.images import strip_metadata
from bordermatch.store import repo

router = APIRouter(prefix="/v1/galleries", tags=["galleries"])

# Column widths of the travelers table (store/tables.py).
_MAX_LEN = {"traveler_id": 64, "given_names": 200, "surname": 200, "document_type": 32,
            "document_number": 64}
MANIFEST_COLUMNS = ("traveler_id", "given_names", "surname", "document_type",
                    "document_number", "nationality", "citizen", "photo")


def _out(g, enrolled: int = 0) -> GalleryOut:
    return GalleryOut(id=g.id, name=g.name, kind=g.kind, valid_from=g.valid_from,
                      valid_until=g.valid_until, status=g.status, enrolled=enrolled,
                      created_at=g.created_at, closed_at=g.closed_at)


@router.post("", status_code=201, response_model=GalleryOut)
def create_gallery(body: GalleryCreate, who: Admin, svc: Service) -> GalleryOut:
    with svc.sessions.begin() as s:
        g = repo.create_gallery(s, who, svc.clock.now(), body.name, body.kind,
                                body.valid_from, body.valid_until)
    return _out(g)


@router.get("", response_model=list[GalleryOut])
def list_galleries(who: Enroller, svc: Service, status: QueryText(16) = None) -> list[GalleryOut]:
    with svc.sessions() as s:
        return [_out(g, n) for g, n in repo.list_galleries(s, status)]


@router.get("/{gallery_id}", response_model=GalleryOut)
def get_gallery(gallery_id: PathId(), who: Enroller, svc: Service) -> GalleryOut:
    with svc.sessions() as s:
        rows = [(g, n) for g, n in repo.list_galleries(s) if g.id == gallery_id]
        if not rows:
            repo.get_gallery(s, gallery_id)  # raises the 404
        return _out(*rows[0])


@router.post("/{gallery_id}/close", response_model=GalleryOut)
def close_gallery(gallery_id: PathId(), who: Admin, svc: Service) -> GalleryOut:
    with svc.sessions.begin() as s:
        g = repo.close_gallery(s, who, svc.clock.now(), gallery_id)
    return _out(g)


def _parse_bool(value: str, what: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no", ""):
        return False
    raise InputError(f"{what} must be true or false, not {value!r}")


@router.post("/{gallery_id}/travelers", status_code=201, response_model=EnrolmentOut)
def enrol_traveler(
    gallery_id: PathId(), who: Enroller, svc: Service, _form: FormOnly,
    traveler_id: FormText(64, 1),
    given_names: FormText(200),
    surname: FormText(200, 1),
    document_type: FormText(32, 1),
    document_number: FormText(64, 1),
    nationality: FormText(3, 2),
    citizen: Annotated[bool, Form()],
    opt_out: Annotated[bool, Form()] = False,
    photo: Annotated[UploadFile | None, File()] = None,
) -> EnrolmentOut:
    """Enrol one traveller: document photo plus biographic data (no photo if opting out)."""
    bio = repo.Biographics(traveler_id, given_names, surname, document_type, document_number,
                           nationality.upper(), citizen, opt_out)
    data = None
    if photo is not None:
        # Stored as sent apart from its metadata (EXIF: camera, GPS, times; XMP; comments).
        data = strip_metadata(read_image(photo, svc.settings, svc.settings.enrol_max_pixels,
                                         "photo"))
    # An opt-out has no image work, so it never waits for (or is refused) a decode slot.
    with image_work(svc.settings) if data is not None else contextlib.nullcontext():
        result = svc.enrol(who, gallery_id, bio, data)
    e = result.enrolment
    return EnrolmentOut(enrolment_id=e.id, gallery_id=gallery_id, traveler_id=e.traveler_id,
                        status=e.status, quality=e.quality,
                        alias_alerts=[a.id for a in result.alias_alerts])


@router.post("/{gallery_id}/manifest", response_model=ManifestReport)
def enrol_manifest(
    gallery_id: PathId(), who: Admin, svc: Service, _mp: ManifestMultipart,
    manifest: Annotated[UploadFile, File(description="manifest.csv (DESIGN.md columns)")],
    photos: Annotated[list[UploadFile] | None, File(description="The photos it names")] = None,
) -> ManifestReport:
    """Enrol a gallery directory: each row succeeds or fails on its own, with a reason."""
    limit = svc.settings.max_upload_bytes
    with svc.sessions() as s:
        repo.get_gallery(s, gallery_id)
    try:
        text = read_upload(manifest, limit, "manifest").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError("manifest is not UTF-8 text") from None
    rows = _read_manifest(text, svc.settings.max_manifest_rows)
    files: dict[str, UploadFile] = {}
    for f in photos or []:
        name = (f.filename or "").replace("\\", "/")
        if name in files:
            raise ManifestError(f"photo {name!r} is uploaded twice")
        files[name] = f
        files.setdefault(name.rsplit("/", 1)[-1], f)
    out: list[ManifestRowOut] = []
    for line, row in rows:
        tid = (row.get("traveler_id") or "").strip() or None
        try:
            bio = _bio(row)
            opt = bio.opt_out
            upload = files.get(row["photo"].strip()) or files.get(
                row["photo"].strip().rsplit("/", 1)[-1])
            if upload is None and not opt:
                raise InputError(f"photo {row['photo']!r} was not uploaded")
            data = strip_metadata(read_image(upload, svc.settings,
                                             svc.settings.enrol_max_pixels, row["photo"])) \
                if upload and not opt else None
            res = svc.enrol(who, gallery_id, bio, data)
            out.append(ManifestRowOut(line=line, traveler_id=tid, status=res.enrolment.status,
                                      alias_alerts=[a.id for a in res.alias_alerts]))
        except BordermatchError as exc:
            if not isinstance(exc, InputError):
                raise
            out.append(ManifestRowOut(line=line, traveler_id=tid, status="error",
                                      error=exc.code, detail=str(exc)))
    enrolled = sum(r.status != "error" for r in out)
    return ManifestReport(gallery_id=gallery_id, enrolled=enrolled,
                          errors=len(out) - enrolled, rows=out)


def _read_manifest(text: str, max_rows: int) -> list[tuple[int, dict[str, str]]]:
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        missing = [c for c in MANIFEST_COLUMNS if c not in header]
        if missing:
            raise ManifestError(f"manifest lacks columns {missing}; need {MANIFEST_COLUMNS}")
        rows = []
        for row in reader:
            if len(rows) >= max_rows:
                raise ManifestError(f"manifest has more than {max_rows} rows")
            if None in row:
                raise ManifestError(f"line {reader.line_num}: more fields than the header")
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise ManifestError(f"manifest is not valid CSV: {exc}") from None
    return rows


def _bio(row: dict[str, str]) -> repo.Biographics:
    get = {k: (row.get(k) or "").strip() for k in MANIFEST_COLUMNS}
    for k in ("traveler_id", "surname", "document_type", "document_number", "nationality"):
        if not get[k]:
            raise ManifestError(f"{k} is empty")
    if not 2 <= len(get["nationality"]) <= 3:
        raise ManifestError("nationality must be a 2-3 letter code")
    for k, limit in _MAX_LEN.items():
        why = unstorable_reason(get[k], limit)
        if why:
            raise ManifestError(f"{k} {why}")
    return repo.Biographics(get["traveler_id"], get["given_names"], get["surname"],
                            get["document_type"], get["document_number"],
                            get["nationality"].upper(), _parse_bool(get["citizen"], "citizen"),
                            _parse_bool(row.get("opt_out") or "", "opt_out"))
