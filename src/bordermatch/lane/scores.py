"""A lane scores file: every search and 1:1 score observing truth-labelled events gives.

``lane calibrate`` and ``lane evaluate --gallery`` both observe every event (detection,
tracking, embedding: the expensive part) and keep only scores: per fusion, each captured
track's best non-mated search score and each enrolled occupant's mated score and rank
(``lane.runner.collect_scores``), and the document stage's 1:1 comparisons
(``lane.verification``). A scores file holds exactly those, so the observation can run
across processes (``bordermatch batch lane-run --scores``: one file per chunk of events,
pooled in event order) and the fits and tables be made from the pooled file
(``lane calibrate --scores``, ``lane evaluate --scores``) with the same arithmetic as in
one process.

Format: an npz of 1-D float64 / bool arrays ``<fusion>.nonmated``, ``<fusion>.mated``,
``<fusion>.rank1``, ``verification.nonmated`` (float32), and ``meta`` and
``verification.mated`` as JSON text. ``meta`` names the format, the recognizer, the scale
of the 1:1 scores (``normalisation``; ``one_to_one`` false when the gallery was too small
a cohort for that scale and none were kept), the operating points the lane ran with, the
options it observed with (``observed_with``: detector, its score, the lane options, the
gallery's SHA-256), and the events.
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
from bordermatch.lane.fusions import FUSIONS
from bordermatch.lane.verification import MatedComparison, VerificationData

FORMAT = "bordermatch-lane-scores/1"
KINDS = ("nonmated", "mated", "rank1")
META = ("model", "normalisation", "one_to_one", "events", "event_ids", "observed_with",
        "search_point", "document_point")


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
        nonmated = self.verification.nonmated
        arrays["verification.nonmated"] = (np.concatenate(nonmated).astype(np.float32, copy=False)
                                           if nonmated else np.zeros(0, np.float32))
        arrays["verification.mated"] = np.array(json.dumps(
            [asdict(m) for m in self.verification.mated]))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def one_to_one(self, what: str) -> str | None:
        """The scale of the 1:1 comparisons; refused when none were kept."""
        if not self.meta.get("one_to_one"):
            raise ConfigError(f"{what}: no 1:1 comparisons were kept: the gallery is too "
                              f"small a cohort for {self.meta.get('normalisation')} scores; "
                              "observe with --document-norm none")
        return self.meta.get("normalisation")

    @classmethod
    def read(cls, path: Path) -> LaneScores:
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
                if not isinstance(meta, dict) or meta.pop("format", None) != FORMAT:
                    raise ConfigError(f"{path}: not a lane scores file ({FORMAT})")
                missing = [k for k in META if k not in meta]
                if missing:
                    raise ValueError(f"meta lacks {missing}")
                found = {k.split(".")[0] for k in z.files} - {"meta", "verification"}
                if not found or not found <= set(FUSIONS):
                    raise ValueError(f"fusions {sorted(found)}, not some of {sorted(FUSIONS)}")
                searches = {f: {kind: _vector(z, f"{f}.{kind}", kind == "rank1")
                                for kind in KINDS} for f in FUSIONS if f in found}
                mated = [_mated(m) for m in json.loads(str(z["verification.mated"]))]
                nonmated = np.asarray(_vector(z, "verification.nonmated", False), np.float32)
        except ConfigError:
            raise
        except FileNotFoundError:
            raise ConfigError(f"{path}: scores file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a directory, not a scores file") from None
        except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError, TypeError,
                AttributeError) as exc:
            raise ConfigError(f"{path}: unreadable lane scores file ({exc})") from None
        return cls(searches, VerificationData(mated, [nonmated] if nonmated.size else []), meta)


def pool(parts: Sequence[LaneScores], what: str) -> LaneScores:
    """The parts' scores in order, refused unless they come from one recognizer and one
    scale (the meta of the first, with the events summed)."""
    if not parts:
        raise ConfigError(f"no scores to pool for {what}")
    first = parts[0].meta
    for p in parts[1:]:
        for key in ("model", "normalisation", "one_to_one"):
            if p.meta.get(key) != first.get(key):
                raise ConfigError(f"{what}: scores with {key} {p.meta.get(key)!r} and "
                                  f"{first.get(key)!r} cannot be pooled")
        if _observation(p.meta) != _observation(first):
            raise ConfigError(f"{what}: scores observed with other detector or lane options "
                              f"({p.meta['observed_with']} and {first['observed_with']}) "
                              "cannot be pooled")
    searches: dict[str, dict[str, list]] = {}
    verification = VerificationData([], [])
    for p in parts:
        for fusion, lists in p.searches.items():
            into = searches.setdefault(fusion, {kind: [] for kind in KINDS})
            for kind in KINDS:
                into[kind] += lists[kind]
        verification.extend(p.verification)
    meta = {**first, "events": sum(int(p.meta["events"]) for p in parts),
            "event_ids": [e for p in parts for e in p.meta["event_ids"]]}
    return LaneScores(searches, verification, meta)


def _observation(meta: dict[str, Any]) -> dict[str, Any]:
    # Sets from different galleries pool (lane calibrate pools development sets); the
    # detector and lane options must be the ones thresholds are fitted for.
    return {k: v for k, v in meta["observed_with"].items() if k != "gallery_sha256"}


def _vector(z: Any, key: str, flags: bool) -> list:
    a = z[key]
    if a.ndim != 1 or (a.dtype != bool if flags else a.dtype.kind != "f"):
        raise ValueError(f"{key} is {a.dtype} of shape {a.shape}, not 1-D "
                         f"{'bool' if flags else 'float'}")
    return a.tolist()


def _mated(m: Any) -> MatedComparison:
    score = m["score"]
    if not (isinstance(m["event_id"], str) and isinstance(m["seat"], str)
            and len(m["seat"]) >= 2 and m["seat"][1].isdigit()
            and isinstance(m["daylight"], str) and isinstance(m["by_camera"], dict)
            and (score is None or isinstance(score, int | float))
            and all(isinstance(v, int | float) for v in m["by_camera"].values())):
        raise ValueError(f"malformed mated comparison {str(m)[:200]}")
    return MatedComparison(m["event_id"], m["seat"], m["daylight"], score, m["by_camera"])


def observe(pipeline: Any, folders: Sequence[Path], partners: dict[str, set[str]],
            observed_with: dict[str, Any]) -> LaneScores:
    """The scores of these truth-labelled event folders, as ``lane calibrate`` collects
    them (``lane.runner.collect_scores``, which also fills the 1:1 comparisons on the scale
    ``lane calibrate`` fits), on a pipeline built with ``observed_with``. A gallery too
    small a cohort for that scale keeps no 1:1 comparisons (``lane calibrate`` would
    refuse to fit on them), only the searches."""
    from bordermatch.lane.runner import collect_scores
    from bordermatch.match.normalise import usable

    norm = pipeline.config.document_norm
    kept = usable(norm, len(pipeline.search))
    chosen = pipeline.config  # collect_scores walks the fusions through it
    verification = VerificationData([], [])
    try:
        searches = collect_scores(pipeline, list(folders), partners=partners,
                                  verification=verification if kept else None)
    finally:
        pipeline.config = chosen
    doc = pipeline.document_point
    meta = {"model": pipeline.embedder.name, "normalisation": norm, "one_to_one": kept,
            "events": len(folders), "event_ids": [f.name for f in folders],
            "observed_with": observed_with, "search_point": asdict(pipeline.point),
            "document_point": None if doc is None else asdict(doc)}
    return LaneScores(searches, verification, meta)
