"""/v1/galleries: create, list, fetch, close; enrol one traveller or a whole manifest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from bordermatch.api.auth import Admin, Enroller
from bordermatch.api.deps import FormOnly, MultipartOnly, Service, read_upload
from bordermatch.api.schemas import (
    EnrolmentOut,
    GalleryCreate,
    GalleryOut,
    ManifestReport,
    ManifestRowOut,
)
from bordermatch.errors import BordermatchError, InputError, ManifestError
from bordermatch.gallery.manifest import ManifestRow, parse_manifest
from bordermatch.store import repo

router = APIRouter(prefix="/v1/galleries", tags=["galleries"])


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
def list_galleries(who: Enroller, svc: Service, status: str | None = None) -> list[GalleryOut]:
    with svc.sessions() as s:
        return [_out(g, n) for g, n in repo.list_galleries(s, status)]


@router.get("/{gallery_id}", response_model=GalleryOut)
def get_gallery(gallery_id: str, who: Enroller, svc: Service) -> GalleryOut:
    with svc.sessions() as s:
        rows = [(g, n) for g, n in repo.list_galleries(s) if g.id == gallery_id]
        if not rows:
            repo.get_gallery(s, gallery_id)  # raises the 404
        return _out(*rows[0])


@router.post("/{gallery_id}/close", response_model=GalleryOut)
def close_gallery(gallery_id: str, who: Admin, svc: Service) -> GalleryOut:
    with svc.sessions.begin() as s:
        g = repo.close_gallery(s, who, svc.clock.now(), gallery_id)
    return _out(g)


@router.post("/{gallery_id}/travelers", status_code=201, response_model=EnrolmentOut)
def enrol_traveler(
    gallery_id: str, who: Enroller, svc: Service, _form: FormOnly,
    traveler_id: Annotated[str, Form(min_length=1, max_length=64)],
    given_names: Annotated[str, Form(max_length=200)],
    surname: Annotated[str, Form(min_length=1, max_length=200)],
    document_type: Annotated[str, Form(min_length=1, max_length=32)],
    document_number: Annotated[str, Form(min_length=1, max_length=64)],
    nationality: Annotated[str, Form(min_length=2, max_length=3)],
    citizen: Annotated[bool, Form()],
    opt_out: Annotated[bool, Form()] = False,
    photo: Annotated[UploadFile | None, File()] = None,
) -> EnrolmentOut:
    """Enrol one traveller: document photo plus biographic data (no photo if opting out)."""
    bio = repo.Biographics(traveler_id, given_names, surname, document_type, document_number,
                           nationality.upper(), citizen, opt_out)
    data = read_upload(photo, svc.settings.max_upload_bytes, "photo") if photo else None
    result = svc.enrol(who, gallery_id, bio, data)
    e = result.enrolment
    return EnrolmentOut(enrolment_id=e.id, gallery_id=gallery_id, traveler_id=e.traveler_id,
                        status=e.status, quality=e.quality,
                        alias_alerts=[a.id for a in result.alias_alerts])


@router.post("/{gallery_id}/manifest", response_model=ManifestReport)
def enrol_manifest(
    gallery_id: str, who: Admin, svc: Service, _mp: MultipartOnly,
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
    parsed = parse_manifest(text, "manifest", svc.settings.max_manifest_rows)
    files: dict[str, UploadFile] = {}
    for f in photos or []:
        name = (f.filename or "").replace("\\", "/")
        files[name] = f
        files.setdefault(name.rsplit("/", 1)[-1], f)
    # Rows the shared reader refused (invalid, disagreeing with the traveller's earlier row,
    # a repeated document) are reported with its reason, as ``gallery build`` does.
    out = [ManifestRowOut(line=e["line"], traveler_id=e["traveler_id"], status="error",
                          error=e["reason"], detail=e["detail"]) for e in parsed.report]
    for tid, rows in parsed.travellers().items():
        first, *more = rows
        out.append(_enrol_row(svc, who, gallery_id, first, files, limit))
        # The store keeps one enrolment per traveller and gallery (for now).
        out.extend(ManifestRowOut(line=r.line, traveler_id=tid, status="error",
                                  error="additional_reference",
                                  detail=f"{tid} is enrolled from line {first.line}; one "
                                         "reference per traveller")
                   for r in more)
    out.sort(key=lambda r: r.line)
    enrolled = sum(r.status != "error" for r in out)
    return ManifestReport(gallery_id=gallery_id, enrolled=enrolled,
                          errors=len(out) - enrolled, rows=out)


def _enrol_row(svc: Service, who: Admin, gallery_id: str, row: ManifestRow,
               files: dict[str, UploadFile], limit: int) -> ManifestRowOut:
    bio = repo.Biographics(row.traveler_id, row.given_names, row.surname, row.document_type,
                           row.document_number, row.nationality, row.citizen, row.opt_out)
    try:
        upload = files.get(row.photo) or files.get(row.photo.rsplit("/", 1)[-1])
        if upload is None and not row.opt_out:
            raise InputError(f"photo {row.photo!r} was not uploaded")
        data = read_upload(upload, limit, row.photo) if upload and not row.opt_out else None
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
