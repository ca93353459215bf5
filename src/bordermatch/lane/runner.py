"""Assemble a lane pipeline from files, run it over an events directory, and calibrate the
open-set operating point on simulated (or any truth-labelled) events.

This is the folder edge of the lane: it reads event folders, decodes their frames and
hands both to the pure pipeline (``lane.pipeline``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bordermatch import registry
from bordermatch.config import ImageLimits
from bordermatch.errors import BordermatchError, ConfigError
from bordermatch.eval.metrics import fnir
from bordermatch.gallery.file import load as load_gallery
from bordermatch.io.images import load_image
from bordermatch.lane.events import (
    DecodedFrames,
    FrameRef,
    LaneEvent,
    LaneEventError,
    decode_frames,
    event_folders,
    read_event,
    read_truth,
    result_to_json,
)
from bordermatch.lane.operating_points import (
    calibration_norm,
    document_points,
    load_operating_point,
)
from bordermatch.lane.pipeline import FUSIONS, LaneConfig, LanePipeline
from bordermatch.lane.verification import VerificationData, compare_vehicle
from bordermatch.match.calibrate import threshold_for_rate
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.fusion import load_matcher
from bordermatch.match.search import GallerySearch
from bordermatch.quality.measures import FaceQualityAssessor
from bordermatch.types import LaneResult

log = logging.getLogger(__name__)


def lane_config(fusion: str | None = None, roi_upscale: float | None = None,
                link_threshold: float | None = None, cameras: str | None = None,
                last_frames: int | None = None, shots: int | None = None,
                layout: Path | None = None, document_fmr: float | None = None,
                ignore_documents: bool = False, document_norm: str | None = None,
                ) -> LaneConfig:
    """The LaneConfig of ``lane run``'s options (None: the default), for every caller."""
    from bordermatch.lane.seats import load_layout

    only = tuple(c for c in cameras.split(",") if c) if cameras else None
    overrides: dict[str, Any] = {
        k: v for k, v in (("fusion", fusion), ("roi_upscale", roi_upscale),
                          ("link_threshold", link_threshold), ("only_cameras", only),
                          ("last_frames", last_frames),
                          ("shots_per_tracklet", shots),
                          ("document_fmr", document_fmr),
                          ("layout", load_layout(layout) if layout else None))
        if v is not None}
    if ignore_documents:
        overrides["document_fmr"] = None
    if document_norm is not None:  # "none": raw scores
        overrides["document_norm"] = None if document_norm == "none" else document_norm
    return LaneConfig(**overrides)


PLACEHOLDER = "placeholder while calibrating: no open-set point yet"


def build_pipeline(gallery_path: Path, thresholds_path: Path | None = None,
                   config: LaneConfig | None = None, detector: str = "yunet",
                   detector_score: float | None = None,
                   point: OperatingPoint | None = None,
                   document_thresholds: Path | None = None,
                   observing: bool = False) -> LanePipeline:
    """The lane ``lane run`` runs; ``observing``: for calibration, which fits the open-set
    thresholds, so none need exist yet (without one, nothing is a match)."""
    gallery = load_gallery(gallery_path)
    if gallery.detector != detector:
        log.warning("gallery enrolled with detector %s, lane uses %s", gallery.detector, detector)
    config = config or LaneConfig()
    calibration = load_matcher(gallery.model)
    embedder = registry.create("embedder", gallery.model)
    if point is None:
        try:
            point = load_operating_point(gallery.model, thresholds_path)
        except ConfigError:
            if not observing or thresholds_path is not None:
                raise
            point = OperatingPoint(gallery.model, "FPIR", 1e-3, 1e30, 1e30, 1e-2, 0,
                                   PLACEHOLDER)
    document_point = fallback = None
    if config.document_fmr is not None:
        document_point, fallback = document_points(gallery.model, config.document_fmr,
                                                   document_thresholds, config.document_norm)
    # None: the detector's own operating point (YuNet 0.6, CenterFace 0.35; docs/models.md).
    options = {} if detector_score is None else {"score_threshold": detector_score}
    det = registry.create("detector", detector, **options)
    return LanePipeline(det, embedder, FaceQualityAssessor(),
                        GallerySearch(gallery.traveler_ids, gallery.vectors), point,
                        calibration.primary, config, aliases=same_face_partners(gallery.report),
                        documents=gallery.document_index(), document_point=document_point,
                        document_fallback=fallback)


def load_event(folder: Path, pipeline: LanePipeline,
               limits: ImageLimits | None = None) -> tuple[LaneEvent, DecodedFrames]:
    """Read one event folder and decode the frames the pipeline will look at."""
    event = read_event(folder)

    def decode(fr: FrameRef):
        if fr.path is None:
            raise ConfigError(f"{fr.name}: a folder event's frame has no path")
        return load_image(fr.path, limits)

    return event, decode_frames(pipeline.frames_needed(event), decode)


def run_events(pipeline: LanePipeline, events_dir: Path, out: Path,
               progress: Callable[[LaneResult], None] | None = None,
               limits: ImageLimits | None = None) -> int:
    """Process every event folder; one JSON line each, written as soon as it is done."""
    folders = event_folders(events_dir)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for folder in folders:
            result = run_event(pipeline, folder, limits)
            fh.write(json.dumps(result_to_json(result)) + "\n")
            fh.flush()
            if progress:
                progress(result)
    return len(folders)


def run_event(pipeline: LanePipeline, folder: Path, limits: ImageLimits | None = None
              ) -> LaneResult:
    """One event folder's result; a bad event is a result with its error reason, never an
    exception (``lane run`` and ``bordermatch batch`` both go through here)."""
    start = time.perf_counter()
    try:
        event, frames = load_event(folder, pipeline, limits)
        return pipeline.process(event, frames)
    except LaneEventError as exc:
        return LaneResult(folder.name, (), _ms(start), error=exc.reason,
                          error_detail=exc.detail)
    except BordermatchError as exc:
        return LaneResult(folder.name, (), _ms(start), error=exc.code, error_detail=str(exc))
    except Exception as exc:  # one bad event must not end a night's run; it is logged
        log.exception("%s: internal error", folder.name)
        return LaneResult(folder.name, (), _ms(start), error="internal_error",
                          error_detail=f"{type(exc).__name__} (see the log)")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def same_face_partners(report: dict[str, Any]) -> dict[str, set[str]]:
    """Traveller -> the travellers the enrolment flagged as possibly the same face.

    LFW has mislabelled photos (one man's face under another man's name); the enrolment
    report flags such pairs. A non-mated search must exclude them too, or one label error
    sets the FPIR threshold (seed 12: a 0.69 "non-mated" score that was the same face).
    """
    out: dict[str, set[str]] = {}
    for pair in report.get("same_face_pairs", []):
        out.setdefault(pair["a"], set()).add(pair["b"])
        out.setdefault(pair["b"], set()).add(pair["a"])
    return out


def collect_scores(pipeline: LanePipeline, events_dir: Path | Sequence[Path],
                   progress: Callable[[int], None] | None = None, limit: int | None = None,
                   keep: list | None = None, partners: dict[str, set[str]] | None = None,
                   verification: VerificationData | None = None,
                   ) -> dict[str, dict[str, list]]:
    """Non-mated and mated search scores per fusion mode, from truth-labelled events.

    Non-mated searches: every captured track searched against the gallery *without* the
    travellers in its vehicle (so it cannot hit its own mate). Mated searches: for each
    enrolled occupant, the best score any track of the vehicle gives its traveller, and
    whether that track ranks the traveller first. ``partners`` (see
    :func:`same_face_partners`) are left out of the non-mated searches with their mates.
    With ``verification``, the 1:1 comparisons of the document stage (configured fusion)
    are added to it (``lane.verification``). ``events_dir`` may be the event folders
    themselves (a batch chunk's).
    """
    out: dict[str, dict[str, list]] = {f: {"nonmated": [], "mated": [], "rank1": []}
                                       for f in FUSIONS}
    # Every shot is embedded: the adaptive stop looks at the whole gallery, mates included,
    # so it would lower the non-mated maxima of mated tracks and flatter the thresholds.
    pipeline.config = replace(pipeline.config, adaptive_shots=False)
    chosen = pipeline.config
    ids = pipeline.search.ids
    col = {t: i for i, t in enumerate(ids)}
    folders = (event_folders(Path(events_dir)) if isinstance(events_dir, str | os.PathLike)
               else list(events_dir))
    for n, folder in enumerate(folders[:limit], start=1):
        try:  # every event counts for the progress, the skipped ones too
            try:
                truth = read_truth(folder)
                start = time.perf_counter()
                event, frames = load_event(folder, pipeline)
                obs = pipeline.observe(event, frames)
            except LaneEventError:
                continue
            if keep is not None:
                keep.append((obs, (time.perf_counter() - start) * 1000.0))
            if verification is not None:
                pipeline.config = chosen
                verification.extend(compare_vehicle(pipeline, obs, truth, partners,
                                                    calibration_norm(pipeline)))
            mates = [col[o.traveler_id] for o in truth if o.traveler_id in col]
            aliases = {p for o in truth for p in (partners or {}).get(o.traveler_id or "", ())}
            excluded = sorted(set(mates) | {col[a] for a in aliases if a in col})
            tracks = [t for t in obs.tracks
                      if t.best_quality >= pipeline.config.min_capture_quality]
            if not tracks:
                lowest = float(pipeline.scale.of_cosine(np.float32(-1.0)))
                for f in FUSIONS:
                    out[f]["mated"] += [lowest] * len(mates)
                    out[f]["rank1"] += [False] * len(mates)
                continue
            for fusion in FUSIONS:
                pipeline.config = replace(pipeline.config, fusion=fusion)
                s = pipeline.track_scores(tracks)
                others = np.delete(s, excluded, axis=1) if excluded else s
                if others.shape[1]:  # empty when the vehicle holds every gallery traveller
                    out[fusion]["nonmated"] += others.max(1).tolist()
                for m in mates:
                    best = int(s[:, m].argmax())
                    out[fusion]["mated"].append(float(s[best, m]))
                    out[fusion]["rank1"].append(bool(s[best].argmax() == m))
        finally:
            if progress:
                progress(n)
    return out


@dataclass(frozen=True, slots=True)
class CalibrationSet:
    """Truth-labelled events with the pipeline (and so the gallery) they were simulated for."""

    pipeline: LanePipeline
    events: Path
    partners: dict[str, set[str]] = field(default_factory=dict)


def calibrate(sets: Sequence[CalibrationSet], *, target_fpir: float, review_fpir: float,
              fusion: str, source: str, progress: Callable[[int], None] | None = None,
              limit: int | None = None, results_out: Path | None = None,
              verification: VerificationData | None = None,
              ) -> tuple[OperatingPoint, dict[str, Any]]:
    """The operating point for the chosen fusion, and a comparison of all fusion modes.

    Several sets (each a gallery with its own events) pool their searches: an FPIR of 1e-3
    can only be shown with thousands of non-mated searches, more than one simulated set
    of 200 vehicles gives. With ``results_out`` (one set only) the calibration events are
    also decided at the new operating point, from the observations already made, and
    written as results lines, so the development set can be evaluated without a second pass.
    ``verification`` collects the 1:1 comparisons for the document threshold
    (:func:`document_operating_point`).
    """
    if not sets:
        raise ConfigError("no calibration sets")
    if results_out is not None and len(sets) > 1:
        raise ConfigError("--results-out needs a single calibration set (event ids repeat)")
    if review_fpir < target_fpir:
        raise ConfigError("review FPIR must be at least the match FPIR")
    models = {cs.pipeline.embedder.name for cs in sets}
    if len(models) > 1:
        raise ConfigError(f"calibration sets use different recognizers: {sorted(models)}")
    kept: list = []
    data: dict[str, dict[str, list]] = {f: {"nonmated": [], "mated": [], "rank1": []}
                                        for f in FUSIONS}
    for cs in sets:
        chosen = cs.pipeline.config
        try:
            part = collect_scores(cs.pipeline, cs.events, progress, limit,
                                  kept if results_out is not None else None, cs.partners,
                                  verification)
        finally:
            cs.pipeline.config = chosen
        for f in FUSIONS:
            for k in data[f]:
                data[f][k] += part[f][k]
    pipeline = sets[0].pipeline
    result, comparison = fit_open_set(data, pipeline.embedder.name, target_fpir=target_fpir,
                                      review_fpir=review_fpir, fusion=fusion, source=source)
    if results_out is not None:
        pipeline.config = replace(pipeline.config, fusion=fusion)
        pipeline.point = result
        with open(results_out, "w", encoding="utf-8") as fh:
            for obs, observe_ms in kept:
                occupants, search_ms = pipeline.decide(obs.tracks, obs.seats,
                                                       obs.event.documents)
                res = pipeline.result(obs.event, occupants, observe_ms + search_ms)
                fh.write(json.dumps(result_to_json(res)) + "\n")
    return result, comparison


def fit_open_set(data: dict[str, dict[str, list]], model: str, *, target_fpir: float,
                 review_fpir: float, fusion: str, source: str,
                 ) -> tuple[OperatingPoint, dict[str, Any]]:
    """The open-set operating point of ``fusion`` from pooled search scores (one process's
    ``collect_scores``, or a scores file's), and every fusion's figures beside it."""
    if review_fpir < target_fpir:
        raise ConfigError("review FPIR must be at least the match FPIR")
    comparison = {}
    result = None
    for f, d in data.items():
        if not d["nonmated"] or not d["mated"]:
            raise ConfigError(f"{source}: need mated and non-mated searches to calibrate")
        nonmated, mated = np.array(d["nonmated"]), np.array(d["mated"])
        point = OperatingPoint(
            model, "FPIR", target_fpir, threshold_for_rate(nonmated, target_fpir),
            threshold_for_rate(nonmated, review_fpir), review_fpir, int(nonmated.size),
            f"bordermatch lane calibrate, fusion {f}, {nonmated.size} non-mated and "
            f"{mated.size} mated searches: {source}")
        ranks = np.where(np.array(d["rank1"]), 1, 2)
        comparison[f] = {
            "match_threshold": point.match, "review_threshold": point.review,
            "nonmated_searches": point.samples, "mated_searches": int(mated.size),
            "fnir_at_match": fnir(mated, ranks, point.match),
            "fnir_at_review": fnir(mated, ranks, point.floor),
            "max_nonmated": float(np.max(nonmated)),
            "rank1_rate": float(np.mean(ranks == 1)),
        }
        if f == fusion:
            result = point
    if result is None:
        raise ConfigError(f"fusion {fusion!r} not in {sorted(FUSIONS)}")
    return result, comparison
