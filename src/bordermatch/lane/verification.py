"""1:1 verification of lane tracks against their own traveller's reference photos.

The document stage (``match.decide.identify_with_documents``) decides a track by 1:1
comparisons with the travellers whose documents were read, at an FMR operating point. How
often it can succeed is the FNMR of those comparisons, which this module measures on
truth-labelled events, broken down by row, by daylight and by camera; the non-mated
comparisons (every captured track against every traveller not in its vehicle) are what
``lane calibrate`` fits the document threshold on.

Pairing: a mated occupant's *score* is the best fused score (the document stage's fusion,
``LaneConfig.document_fusion``) any captured track of the vehicle gives their traveller,
the one the document stage would see; its score *by camera* is the best single-shot score
among that track's shots from that camera.
An occupant with no captured track counts as a non-match with no score: a verification
that cannot happen fails. A camera's FNMR counts the occupants whose track it saw.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import EllipsisType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bordermatch.lane.events import LaneEventError, TruthOccupant, event_folders, read_truth

# Hours (local time of the event's own timestamp) that count as daylight; a site with
# near-infrared cameras switches to them outside these hours.
DAY_HOURS = range(7, 19)


def daylight(started_at: str) -> str:
    """``day`` or ``night`` from the event's ISO-8601 timestamp, ``unknown`` if unparsable."""
    try:
        hour = datetime.fromisoformat(started_at).hour
    except (TypeError, ValueError):
        return "unknown"
    return "day" if hour in DAY_HOURS else "night"


@dataclass(frozen=True, slots=True)
class MatedComparison:
    """One enrolled occupant's 1:1 comparison with their own reference photos."""

    event_id: str
    seat: str
    daylight: str
    score: float | None  # calibrated scale; None: no captured track
    by_camera: Mapping[str, float]  # camera view -> best single-shot score of that view

    @property
    def row(self) -> int:
        return int(self.seat[1])


@dataclass(slots=True)
class VerificationData:
    mated: list[MatedComparison]
    nonmated: list[NDArray[np.float32]]  # per vehicle: every track x every other traveller

    def nonmated_scores(self) -> NDArray[np.float64]:
        # float64: a threshold just above a float32 score must not round back onto it.
        return (np.concatenate(self.nonmated).astype(np.float64) if self.nonmated
                else np.zeros(0, np.float64))

    def extend(self, other: VerificationData) -> None:
        self.mated += other.mated
        self.nonmated += other.nonmated


def compare_vehicle(pipeline: Any, obs: Any, truth: Sequence[TruthOccupant],
                    partners: Mapping[str, Iterable[str]] | None = None,
                    norm: str | EllipsisType | None = ...) -> VerificationData:
    """The mated and non-mated 1:1 comparisons of one observed vehicle.

    ``pipeline`` is a ``lane.pipeline.LanePipeline`` (its search, scale and fusion);
    ``obs`` its ``Observation`` of the event. ``partners`` (travellers flagged as one face
    under two identities) are left out of the non-mated comparisons with the vehicle's
    own travellers, as in the open-set calibration. Scores are on the scale of the
    pipeline's document point, or on ``norm`` (``match.normalise``) when calibrating for it.
    """
    search = pipeline.search
    col = {t: i for i, t in enumerate(search.ids)}
    views = {c.id: c.view for c in obs.event.cameras}
    tracks = [t for t in obs.tracks if t.best_quality >= pipeline.config.min_capture_quality
              and any(s.vector is not None for s in t.shots)]
    scale = pipeline.document_norm if isinstance(norm, EllipsisType) else norm
    fused = (pipeline.document_scores(tracks, scale).scores if tracks
             else np.zeros((0, len(search)), np.float32))
    light = daylight(obs.event.started_at)
    mated = []
    for occ in truth:
        if occ.traveler_id is None or occ.traveler_id not in col:
            continue
        c = col[occ.traveler_id]
        by_view: dict[str, float] = {}
        score = None
        if tracks:
            # The occupant's track: the one that fits their references best.
            best = int(fused[:, c].argmax())
            score = float(fused[best, c])
            shots = [s for s in tracks[best].shots if s.vector is not None]
            vectors = np.stack([s.vector for s in shots])
            own = pipeline.normalised(
                lambda cols, v=vectors: pipeline.scale.of_cosine(cols.scores(v)),
                scale).scores[:, c]
            for s, v in zip(shots, own, strict=True):
                view = views.get(s.camera, s.camera)
                by_view[view] = max(by_view.get(view, -np.inf), float(v))
        mated.append(MatedComparison(obs.event.event_id, occ.seat, light, score, by_view))
    excluded = {col[o.traveler_id] for o in truth if o.traveler_id in col}
    for o in truth:
        excluded |= {col[p] for p in (partners or {}).get(o.traveler_id or "", ()) if p in col}
    keep = np.setdiff1d(np.arange(len(search)), sorted(excluded))
    nonmated = [fused[:, keep].ravel().astype(np.float32)] if len(fused) else []
    return VerificationData(mated, nonmated)


def collect_verification(pipeline: Any, events_dir: Path,
                         partners: Mapping[str, Iterable[str]] | None = None,
                         limit: int | None = None,
                         progress: Callable[[int], None] | None = None) -> VerificationData:
    """Observe every truth-labelled event and gather its 1:1 comparisons."""
    from bordermatch.lane.runner import load_event

    data = VerificationData([], [])
    for n, folder in enumerate(event_folders(events_dir)[:limit], start=1):
        try:
            truth = read_truth(folder)
            event, frames = load_event(folder, pipeline)
            obs = pipeline.observe(event, frames)
        except LaneEventError:
            continue
        data.extend(compare_vehicle(pipeline, obs, truth, partners))
        if progress:
            progress(n)
    return data


def _fnmr(scores: Sequence[float | None], threshold: float) -> dict[str, Any]:
    n = len(scores)
    misses = sum(s is None or s < threshold for s in scores)
    return {"n": n, "fnmr": misses / n if n else None,
            "no_capture": sum(s is None for s in scores)}


def fnmr_table(data: VerificationData, threshold: float, fmr: float,
               normalisation: str | None = None) -> dict[str, Any]:
    """FNMR at ``threshold`` (fitted for ``fmr``, on ``normalisation``'s scale) overall, by
    row, daylight and camera view, and the FMR actually observed at it on the non-mated
    comparisons."""
    groups: dict[str, dict[str, list[float | None]]] = {
        "row": defaultdict(list), "daylight": defaultdict(list), "camera": defaultdict(list)}
    for m in data.mated:
        groups["row"][f"row{m.row}"].append(m.score)
        groups["daylight"][m.daylight].append(m.score)
        for view, s in m.by_camera.items():
            groups["camera"][view].append(s)
    nonmated = data.nonmated_scores()
    return {
        "threshold": threshold, "target_fmr": fmr, "normalisation": normalisation,
        "observed_fmr": float(np.mean(nonmated >= threshold)) if nonmated.size else None,
        "nonmated_comparisons": int(nonmated.size),
        "overall": _fnmr([m.score for m in data.mated], threshold),
        **{k: {g: _fnmr(v, threshold) for g, v in sorted(d.items())} for k, d in groups.items()},
    }


def table_markdown(table: Mapping[str, Any]) -> list[str]:
    """The FNMR table as report.md lines."""
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    fmr = table["observed_fmr"]
    scale = table.get("normalisation")
    lines = [f"1:1 against each enrolled occupant's own reference photos, threshold "
             f"{table['threshold']:.3f}{'' if scale is None else f' on {scale} scores'} "
             f"(target FMR {table['target_fmr']:g}; observed "
             f"{pct(fmr) if fmr is None else f'{fmr:.2g}'} on "
             f"{table['nonmated_comparisons']:,} non-mated comparisons). Camera: the best "
             "single shot of that view, over the occupants it saw.", "",
             "| group | occupants | FNMR | no captured track |", "|---|---|---|---|"]
    o = table["overall"]
    lines.append(f"| all | {o['n']} | {pct(o['fnmr'])} | {o['no_capture']} |")
    for key in ("row", "daylight", "camera"):
        for g, v in table[key].items():
            lines.append(f"| {key} {g} | {v['n']} | {pct(v['fnmr'])} | {v['no_capture']} |")
    return lines
