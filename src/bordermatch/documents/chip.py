"""One call for a chip read: the LDS files as bytes in, the checked document out.

``read_chip`` is what the CLI (``document chip DIR``) and, later, the booth service call: it
parses EF.COM, DG1 and DG2, checks DG1's MRZ like a printed one, decodes the face, and runs
passive authentication over every data group supplied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bordermatch.documents import lds, mrz
from bordermatch.documents.passive_auth import PassiveAuthResult, TrustStore, authenticate
from bordermatch.errors import BordermatchError, LdsError

_FILE_NAME = re.compile(r"^(?:ef[._-]?)?(com|sod|dg(\d{1,2}))(?:\.(?:bin|der|dat))?$", re.I)


def file_key(name: str) -> str | int | None:
    """"EF.COM", "EF_SOD.bin", "DG2", "dg14.bin" -> "com", "sod", 2, 14; else None."""
    m = _FILE_NAME.match(name)
    if m is None:
        return None
    return int(m.group(2)) if m.group(2) else m.group(1).lower()


@dataclass(frozen=True, slots=True)
class ChipRead:
    com: lds.EfCom | None
    mrz: mrz.MrzResult
    faces: tuple[lds.FaceImage, ...]
    face_error: str | None  # why the first face did not decode, if it did not
    passive_auth: PassiveAuthResult

    @property
    def valid(self) -> bool:
        return self.mrz.valid and self.passive_auth.status == "valid" and not self.face_error

    def to_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "com": None if self.com is None else {"lds_version": self.com.lds_version,
                                                  "data_groups": list(self.com.data_groups)},
            "mrz": self.mrz.to_dict(),
            "faces": [{"format": f.format, "image_format": f.image_format, "width": f.width,
                       "height": f.height, "bytes": len(f.data)} for f in self.faces],
            "face_error": self.face_error,
            "passive_authentication": self.passive_auth.to_dict()}


def read_chip(files: dict[str | int, bytes], trust: TrustStore, *, at: datetime | None = None,
              today: date | None = None) -> ChipRead:
    """``files`` maps "com", "sod" and data group numbers to the bytes the reader returned."""
    if 1 not in files:
        raise LdsError("no DG1 among the chip files: DG1 (the MRZ) is mandatory")
    com = lds.parse_ef_com(files["com"]) if "com" in files else None
    checked = lds.dg1_mrz(files[1], today=today)
    faces: tuple[lds.FaceImage, ...] = ()
    face_error = None
    if 2 in files:
        faces = lds.parse_dg2(files[2])
        try:
            lds.decode_face(faces[0])
        except BordermatchError as exc:  # a chip whose photo does not decode is still read
            face_error = f"{exc.code}: {exc}"
    dgs = {k: v for k, v in files.items() if isinstance(k, int)}
    if "sod" in files:
        pa = authenticate(files["sod"], dgs, trust, at=at or datetime.now(UTC))
    else:
        pa = PassiveAuthResult("untrusted", ("no EF.SOD was read: nothing vouches for the chip",))
    return ChipRead(com, checked, faces, face_error, pa)
