"""The gallery template file: ``<name>.npz`` (arrays) plus ``<name>.json`` (sidecar).

The npz holds ``traveler_ids`` (str), ``vectors`` (n, dim) float32 L2-normalised and
``quality`` (n,) float32 unified quality of the enrolled photo. The JSON sidecar records
the recognizer and detector that made the templates, the SHA-256 of the npz (checked on
load so a swapped or truncated file is refused) and the enrolment report.
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

FORMAT = "bordermatch-gallery/1"


@dataclass(frozen=True, slots=True, eq=False)
class GalleryTemplates:
    traveler_ids: tuple[str, ...]
    vectors: NDArray[np.float32]
    quality: NDArray[np.float32]
    model: str
    detector: str
    report: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.traveler_ids)


def paths(out: Path) -> tuple[Path, Path]:
    out = Path(out)
    base = out.with_suffix("") if out.suffix in (".npz", ".json") else out
    return base.with_suffix(".npz"), base.with_suffix(".json")


def save(gallery: GalleryTemplates, out: Path) -> tuple[Path, Path]:
    npz, sidecar = paths(out)
    npz.parent.mkdir(parents=True, exist_ok=True)
    with open(npz, "wb") as fh:
        np.savez(fh, traveler_ids=np.asarray(gallery.traveler_ids, dtype=str),
                 vectors=gallery.vectors.astype(np.float32),
                 quality=gallery.quality.astype(np.float32))
    meta = {"format": FORMAT, "model": gallery.model, "detector": gallery.detector,
            "count": len(gallery), "npz_sha256": _sha256(npz), "report": gallery.report}
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
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ManifestError(f"{sidecar}: not a {FORMAT} file")
    if not npz.is_file():
        raise ManifestError(f"{npz}: gallery templates not found")
    if _sha256(npz) != meta.get("npz_sha256"):
        raise ManifestError(f"{npz}: SHA-256 differs from the sidecar; file changed or truncated")
    with np.load(npz, allow_pickle=False) as data:
        ids = tuple(str(x) for x in data["traveler_ids"])
        vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
        quality = np.asarray(data["quality"], dtype=np.float32)
    if vectors.ndim != 2 or len(ids) != len(vectors) or len(quality) != len(ids):
        raise ManifestError(f"{npz}: inconsistent array shapes")
    if len(set(ids)) != len(ids):
        raise ManifestError(f"{npz}: duplicate traveler_id")
    return GalleryTemplates(ids, vectors, quality, str(meta["model"]), str(meta["detector"]),
                            meta.get("report", {}))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
