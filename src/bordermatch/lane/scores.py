"""A lane scores file: every search and 1:1 score observing truth-labelled events gives.

``lane calibrate`` and ``lane evaluate --gallery`` both observe every event (detection,
tracking, embedding: the expensive part) and keep only scores: per fusion, each captured
track's best non-mated search score and each enrolled occupant's mated score and rank
(``lane.runner.collect_scores``), and the document stage's 1:1 comparisons
(``lane.verification``). A scores file holds exactly those, so the observation can run
across processes (``bordermatch batch lane-scores``: one file per chunk of events, pooled
in event order) and the fits and tables be made from the pooled file
(``lane calibrate --scores``, ``lane evaluate --scores``) with the same arithmetic as in
one process.

Format: an npz of float64 / bool arrays ``<fusion>.nonmated``, ``<fusion>.mated``,
``<fusion>.rank1``, ``verification.nonmated`` (float32), and ``meta`` and
``verification.mated`` as JSON text; ``meta`` names the format, the recognizer, the scale of
the 1:1 scores (``normalisation``), the operating points the lane ran with, and the
events.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bordermatch.errors import ConfigError
from bordermatch.lane.verification import MatedComparison, VerificationData

FORMAT = "bordermatch-lane-scores/1"
KINDS = ("nonmated", "mated", "rank1")


@dataclass
class LaneScores:
    """Pooled scores (see the module docstring); ``meta`` as saved."""

    searches: dict[str, dict[str, list]]  # fusion -> nonmated / mated / rank1
    verification: VerificationData
    meta: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        arrays: dict[str, Any] = {"meta": np.array(json.dumps({"format": FORMAT, **self.meta}))}
        for fusion, lists in self.searches.items():
            for kind in KINDS:
                dtype = bool if kind == "rank1" else np.float64
                arrays[f"{fusion}.{kind}"] = np.asarray(lists[kind], dtype=dtype)
        arrays["verification.nonmated"] = self.verification.nonmated_scores().astype(np.float32)
        arrays["verification.mated"] = np.array(json.dumps(
            [asdict(m) for m in self.verification.mated]))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def read(cls, path: Path) -> LaneScores:
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
                if not isinstance(meta, dict) or meta.pop("format", None) != FORMAT:
                    raise ConfigError(f"{path}: not a lane scores file ({FORMAT})")
                fusions = sorted({k.split(".")[0] for k in z.files} - {"meta", "verification"})
                searches = {f: {kind: z[f"{f}.{kind}"].tolist() for kind in KINDS}
                            for f in fusions}
                mated = [MatedComparison(**m) for m in json.loads(str(z["verification.mated"]))]
                nonmated = z["verification.nonmated"]
        except ConfigError:
            raise
        except FileNotFoundError:
            raise ConfigError(f"{path}: scores file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a directory, not a scores file") from None
        except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError,
                TypeError) as exc:
            raise ConfigError(f"{path}: unreadable lane scores file ({exc})") from None
        return cls(searches, VerificationData(mated, [nonmated] if nonmated.size else []), meta)


def pool(parts: Sequence[LaneScores], what: str) -> LaneScores:
    """The parts' scores in order, refused unless they come from one recognizer and one
    scale (the meta of the first, with the events summed)."""
    if not parts:
        raise ConfigError(f"no scores to pool for {what}")
    first = parts[0].meta
    for p in parts[1:]:
        for key in ("model", "normalisation"):
            if p.meta.get(key) != first.get(key):
                raise ConfigError(f"{what}: scores with {key} {p.meta.get(key)!r} and "
                                  f"{first.get(key)!r} cannot be pooled")
    searches: dict[str, dict[str, list]] = {}
    verification = VerificationData([], [])
    for p in parts:
        for fusion, lists in p.searches.items():
            into = searches.setdefault(fusion, {kind: [] for kind in KINDS})
            for kind in KINDS:
                into[kind] += lists[kind]
        verification.extend(p.verification)
    meta = {**first, "events": sum(int(p.meta.get("events", 0)) for p in parts)}
    return LaneScores(searches, verification, meta)


def observe(pipeline: Any, folders: Sequence[Path], partners: dict[str, set[str]],
            source: str) -> LaneScores:
    """The scores of these truth-labelled event folders, as ``lane calibrate`` collects
    them (``lane.runner.collect_scores``, which also fills the 1:1 comparisons on the scale
    ``lane calibrate`` fits: ``lane.operating_points.calibration_norm``)."""
    from bordermatch.lane.operating_points import calibration_norm
    from bordermatch.lane.runner import collect_scores

    chosen = pipeline.config  # collect_scores walks the fusions through it
    verification = VerificationData([], [])
    try:
        norm = calibration_norm(pipeline)
        searches = collect_scores(pipeline, list(folders), partners=partners,
                                  verification=verification)
    finally:
        pipeline.config = chosen
    doc = pipeline.document_point
    meta = {"model": pipeline.embedder.name, "normalisation": norm, "events": len(folders),
            "source": source, "search_point": asdict(pipeline.point),
            "document_point": None if doc is None else asdict(doc)}
    return LaneScores(searches, verification, meta)
