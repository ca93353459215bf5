"""The gallery template file: ``<name>.npz`` (arrays) plus ``<name>.json`` (sidecar).

One row per reference photo: a traveller with several documents or photos has several
rows under one ``traveler_ids`` value. The npz holds ``traveler_ids`` (str), ``vectors``
(n, dim) float32 L2-normalised, ``quality`` (n,) float32 unified quality of the enrolled
photo, and the document of each row: ``document_types``, ``document_numbers`` and
``nationalities`` (str; format 1 files have none). The JSON sidecar records the recognizer
and detector that made the templates, the SHA-256 of the npz (checked on load so a swapped
or truncated file is refused) and the enrolment report.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ManifestError

FORMAT = "bordermatch-gallery/2"
READABLE = ("bordermatch-gallery/1", FORMAT)
DOCUMENT_FIELDS = ("document_types", "document_numbers", "nationalities")


@dataclass(frozen=True, slots=True, eq=False)
class GalleryTemplates:
    traveler_ids: tuple[str, ...]  # the owner of each reference row
    vectors: NDArray[np.float32]
    quality: NDArray[np.float32]
    model: str
    detector: str
    report: dict[str, Any] = field(default_factory=dict)
    document_types: tuple[str, ...] = ()
    document_numbers: tuple[str, ...] = ()
    nationalities: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.traveler_ids)

    @property
    def travelers(self) -> int:
        return len(set(self.traveler_ids))

    def document_index(self) -> dict[tuple[str, str], str]:
        """(document_number, nationality) -> traveller, for resolving documents read."""
        return {(n, c): t for t, n, c in zip(self.traveler_ids, self.document_numbers,
                                              self.nationalities, strict=True) if n}


def paths(out: Path) -> tuple[Path, Path]:
    out = Path(out)
    base = out.with_suffix("") if out.suffix in (".npz", ".json") else out
    return base.with_suffix(".npz"), base.with_suffix(".json")


def save(gallery: GalleryTemplates, out: Path) -> tuple[Path, Path]:
    npz, sidecar = paths(out)
    npz.parent.mkdir(parents=True, exist_ok=True)
    with open(npz, "wb") as fh:
        docs = {f: np.asarray(getattr(gallery, f) or [""] * len(gallery), dtype=str)
                for f in DOCUMENT_FIELDS}
        # docs holds the DOCUMENT_FIELDS arrays only; mypy fears it sets allow_pickle.
        np.savez(fh, traveler_ids=np.asarray(gallery.traveler_ids, dtype=str),
                 vectors=gallery.vectors.astype(np.float32),
                 quality=gallery.quality.astype(np.float32), **docs)  # type: ignore[arg-type]
    meta = {"format": FORMAT, "model": gallery.model, "detector": gallery.detector,
            "count": len(gallery), "travelers": gallery.travelers,
            "npz_sha256": _sha256(npz), "report": gallery.report}
    sidecar.write_text(json.dumps(meta, indent=1))
    return npz, sidecar


def load(path: Path) -> GalleryTemplates:
    npz, sidecar = paths(path)
    try:
        meta = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{sidecar}: gallery sidecar not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{sidecar}: unreadable gallery sidecar ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") not in READABLE:
        raise ManifestError(f"{sidecar}: not a {FORMAT} file")
    if not npz.is_file():
        raise ManifestError(f"{npz}: gallery templates not found")
    if _sha256(npz) != meta.get("npz_sha256"):
        raise ManifestError(f"{npz}: SHA-256 differs from the sidecar; file changed or truncated")
    with np.load(npz, allow_pickle=False) as data:
        ids = tuple(str(x) for x in data["traveler_ids"])
        vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
        quality = np.asarray(data["quality"], dtype=np.float32)
        docs = {f: tuple(str(x) for x in data[f]) if f in data.files else ("",) * len(ids)
                for f in DOCUMENT_FIELDS}
    if vectors.ndim != 2 or len(ids) != len(vectors) or len(quality) != len(ids) \
            or any(len(v) != len(ids) for v in docs.values()):
        raise ManifestError(f"{npz}: inconsistent array shapes")
    keys = [k for k in zip(docs["document_numbers"], docs["nationalities"], strict=True) if k[0]]
    if len(set(keys)) != len(keys):
        raise ManifestError(f"{npz}: a (document_number, nationality) appears twice")
    return GalleryTemplates(ids, vectors, quality, str(meta["model"]), str(meta["detector"]),
                            meta.get("report", {}), **docs)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
