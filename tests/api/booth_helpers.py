"""Booth fixtures: passports (chip files signed by the test PKI, or an MRZ and a data page)
issued to the public-domain faces, and the calls a booth makes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from PIL import Image
from tests.api.api_helpers import auth
from tests.documents.pki import Pki, build_sod, make_pki

from bordermatch.documents import lds
from bordermatch.documents.mrz import DocumentType, compose

# The test PKI's certificates are valid around this day (tests/documents/pki.py).
BOOTH_NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BOOTH_LANE = "booth-3"


def mrz_lines(surname: str, given: str, number: str, nationality: str = "USA",
              expiry: date = date(2031, 5, 1)) -> tuple[str, ...]:
    return compose(DocumentType.TD3, document_code="P", issuing_state=nationality,
                   surname=surname, given_names=given, document_number=number,
                   nationality=nationality, birth_date=date(1961, 8, 4), sex="M",
                   expiry_date=expiry)


def chip_of(photo: bytes, lines: tuple[str, ...], pki: Pki,
            signed_photo: bytes | None = None) -> dict[str, bytes]:
    """The LDS files of a chip whose DG2 holds ``photo``; with ``signed_photo`` EF.SOD signs
    a DG2 of that other photo instead (a chip whose photo was swapped after issue)."""
    dg1, dg2 = lds.build_dg1(lines), _dg2(photo)
    signed = {1: dg1, 2: _dg2(signed_photo) if signed_photo is not None else dg2}
    return {"ef_com": lds.build_ef_com((1, 2)), "dg1": dg1, "dg2": dg2,
            "ef_sod": build_sod(signed, pki)}


def _dg2(photo: bytes) -> bytes:
    with Image.open(io.BytesIO(photo)) as img:
        return lds.build_dg2(photo, img.width, img.height)


def data_page(photo: bytes) -> bytes:
    """A passport data page: the portrait on the left of a pale page, as a booth's scanner
    photographs it (the MRZ itself is sent as text)."""
    page = Image.new("RGB", (1250, 880), (236, 232, 220))
    face = Image.open(io.BytesIO(photo)).convert("RGB")
    face.thumbnail((380, 480))
    page.paste(face, (60, 160))
    buf = io.BytesIO()
    page.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


@dataclass
class Passports:
    pki: Pki

    def trust(self, folder: Path) -> Path:
        """A trust store folder as `bordermatch document trust add` leaves it."""
        from typer.testing import CliRunner

        from bordermatch.cli import app

        pem = folder.parent / "csca.pem"
        pem.write_bytes(self.pki.csca.public_bytes(serialization.Encoding.PEM))
        r = CliRunner().invoke(app, ["document", "trust", "add", str(pem), "--store",
                                     str(folder)])
        assert r.exit_code == 0, r.output
        return folder


def new_passports() -> Passports:
    return Passports(make_pki("ecdsa"))


def booth(client, token: str, gallery: str, live: bytes, *, chip: dict[str, bytes] | None = None,
          mrz: tuple[str, ...] | None = None, page: bytes | None = None,
          lane: str = BOOTH_LANE, direction: str = "entry", key: str | None = None,
          extra: list | None = None):
    files: list = [("live", ("live.jpg", live, "image/jpeg"))]
    for name, data in (chip or {}).items():
        files.append((name, (name, data, "application/octet-stream")))
    if page is not None:
        files.append(("data_page", ("page.jpg", page, "image/jpeg")))
    data = {"gallery_id": gallery, "lane": lane, "direction": direction}
    if mrz is not None:
        data["mrz"] = "\n".join(mrz)
    headers = auth(token) | ({"Idempotency-Key": key} if key else {})
    return client.post("/v1/documents/verify", headers=headers, data=data,
                       files=files + (extra or []))


def enrol(client, tokens, gallery: str, tid: str, photo: bytes, number: str,
          citizen: bool = True, nationality: str = "USA") -> None:
    r = client.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                    data={"traveler_id": tid, "given_names": "G", "surname": "S",
                          "document_type": "P", "document_number": number,
                          "nationality": nationality, "citizen": str(citizen).lower()},
                    files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
