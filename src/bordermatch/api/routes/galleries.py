"""/v1/galleries: create, list, fetch, close; enrol one traveller or a whole manifest."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from bordermatch.api.auth import Admin, Enroller
from bordermatch.api.deps import (
    FormOnly,
    ManifestMultipart,
    MultipartOnly,
    Service,
    image_work,
    read_image,
    read_upload,
)
from bordermatch.api.schemas import (
    EnrolmentOut,
    GalleryCreate,
    GalleryLanes,
    GalleryOut,
    ManifestReport,
    ManifestRowOut,
)
from bordermatch.api.strings import (
    FormCode,
    FormCountry,
    FormId,
    FormName,
    FormNameOrEmpty,
    PathId64,
    QueryText16,
)
from bordermatch.errors import BordermatchError, InputError, ManifestError
from bordermatch.gallery.manifest import ManifestRow, parse_manifest
from bordermatch.io.images import strip_metadata
from bordermatch.store import repo

router = APIRouter(prefix="/v1/galleries", tags=["galleries"])


def _out(g, enrolled: int = 0) -> GalleryOut:
    return GalleryOut(id=g.id, name=g.name, kind=g.kind, valid_from=g.valid_from,
                      valid_until=g.valid_until, lanes=list(g.lanes or []),
                      status=g.status, enrolled=enrolled,
                      created_at=g.created_at, closed_at=g.closed_at)


@router.post("", status_code=201, response_model=GalleryOut)
def create_gallery(body: GalleryCreate, who: Admin, svc: Service) -> GalleryOut:
    return _out(svc.create_gallery(who, body.name, body.kind, body.valid_from,
                                   body.valid_until, body.lanes))


@router.get("", response_model=list[GalleryOut])
def list_galleries(who: Enroller, svc: Service, status: QueryText16 = None) -> list[GalleryOut]:
    return [_out(g, n) for g, n in svc.list_galleries(status)]


@router.get("/{gallery_id}", response_model=GalleryOut)
def get_gallery(gallery_id: PathId64, who: Enroller, svc: Service) -> GalleryOut:
    return _out(*svc.get_gallery(gallery_id))


@router.post("/{gallery_id}/close", response_model=GalleryOut)
def close_gallery(gallery_id: PathId64, who: Admin, svc: Service) -> GalleryOut:
    return _out(svc.close_gallery(who, gallery_id))


@router.put("/{gallery_id}/lanes", response_model=GalleryOut)
def set_lanes(gallery_id: PathId64, body: GalleryLanes, who: Admin, svc: Service) -> GalleryOut:
    """Which lanes' device and partner keys may submit to this gallery (audited)."""
    svc.set_gallery_lanes(who, gallery_id, body.lanes)
    return _out(*svc.get_gallery(gallery_id))


@router.post("/{gallery_id}/travelers", status_code=201, response_model=EnrolmentOut)
def enrol_traveler(
    gallery_id: PathId64, who: Enroller, svc: Service, _form: FormOnly,
    traveler_id: FormId,
    given_names: FormNameOrEmpty,
    surname: FormName,
    document_type: FormCode,
    document_number: FormId,
    nationality: FormCountry,
    citizen: Annotated[bool, Form()],
    opt_out: Annotated[bool, Form()] = False,
    photo: Annotated[UploadFile | None, File()] = None,
) -> EnrolmentOut:
    """Enrol one document of a traveller with its photo (no photo if opting out).

    A traveller already enrolled must come with the same names and citizenship (409
    ``traveler_conflict`` names what differs; a supervisor corrects details with PATCH
    /v1/travelers/{id}); a new document of theirs becomes another reference photo.
    ``opt_out`` deletes every photo and template of the traveller, in every gallery."""
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
    return _enrolment_out(result, gallery_id)


@router.post("/{gallery_id}/travelers/{traveler_id}/references", status_code=201,
             response_model=EnrolmentOut)
def add_reference(gallery_id: PathId64, traveler_id: PathId64, who: Enroller, svc: Service,
                  _mp: MultipartOnly, photo: Annotated[UploadFile, File()]) -> EnrolmentOut:
    """Another reference photo of a traveller already enrolled here (an earlier encounter,
    a better photo): the traveller's score is the best over all their references."""
    data = strip_metadata(read_image(photo, svc.settings, svc.settings.enrol_max_pixels,
                                     "photo"))
    with image_work(svc.settings):
        result = svc.add_reference(who, gallery_id, traveler_id, data)
    return _enrolment_out(result, gallery_id)


def _enrolment_out(result, gallery_id: str) -> EnrolmentOut:
    e = result.enrolment
    return EnrolmentOut(enrolment_id=e.id, gallery_id=gallery_id, traveler_id=e.traveler_id,
                        status=e.status, quality=e.quality,
                        alias_alerts=[a.id for a in result.alias_alerts])


@router.post("/{gallery_id}/manifest", response_model=ManifestReport)
def enrol_manifest(
    gallery_id: PathId64, who: Admin, svc: Service, _mp: ManifestMultipart,
    manifest: Annotated[UploadFile, File(description="manifest.csv (DESIGN.md columns)")],
    photos: Annotated[list[UploadFile] | None, File(description="The photos it names")] = None,
) -> ManifestReport:
    """Enrol a gallery directory: each row succeeds or fails on its own, with a reason."""
    limit = svc.settings.max_upload_bytes
    svc.get_gallery(gallery_id)  # 404 before reading any upload
    try:
        text = read_upload(manifest, limit, "manifest").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError("manifest is not UTF-8 text") from None
    parsed = parse_manifest(text, "manifest", svc.settings.max_manifest_rows)
    files: dict[str, UploadFile] = {}
    for f in photos or []:
        name = (f.filename or "").replace("\\", "/")
        if name in files:
            raise ManifestError(f"photo {name!r} is uploaded twice")
        files[name] = f
        files.setdefault(name.rsplit("/", 1)[-1], f)
    # Rows the shared reader refused (invalid, disagreeing with the traveller's earlier row,
    # a repeated document) are reported with its reason, as ``gallery build`` does.
    out = [ManifestRowOut(line=e["line"], traveler_id=e["traveler_id"], status="error",
                          error=e["reason"], detail=e["detail"]) for e in parsed.report]
    # Every row of a traveller is one of their documents: each becomes a reference photo.
    out.extend(_enrol_row(svc, who, gallery_id, row, files)
               for rows in parsed.travellers().values() for row in rows)
    out.sort(key=lambda r: r.line)
    enrolled = sum(r.status != "error" for r in out)
    return ManifestReport(gallery_id=gallery_id, enrolled=enrolled,
                          errors=len(out) - enrolled, rows=out)


def _enrol_row(svc: Service, who: Admin, gallery_id: str, row: ManifestRow,
               files: dict[str, UploadFile]) -> ManifestRowOut:
    bio = repo.Biographics(row.traveler_id, row.given_names, row.surname, row.document_type,
                           row.document_number, row.nationality, row.citizen, row.opt_out)
    try:
        upload = files.get(row.photo) or files.get(row.photo.rsplit("/", 1)[-1])
        if upload is None and not row.opt_out:
            raise InputError(f"photo {row.photo!r} was not uploaded")
        if upload is not None:
            upload.file.seek(0)  # rows may share a photo (two documents, one portrait)
        data = strip_metadata(read_image(upload, svc.settings, svc.settings.enrol_max_pixels,
                                         row.photo)) if upload and not row.opt_out else None
        res = svc.enrol(who, gallery_id, bio, data)
    except BordermatchError as exc:
        if not isinstance(exc, InputError):
            raise
        return ManifestRowOut(line=row.line, traveler_id=row.traveler_id, status="error",
                              error=exc.code, detail=str(exc))
    return ManifestRowOut(line=row.line, traveler_id=row.traveler_id,
                          # A new enrolment is enrolled or opted_out; pydantic checks it.
                          status=res.enrolment.status,  # type: ignore[arg-type]
                          alias_alerts=[a.id for a in res.alias_alerts])
