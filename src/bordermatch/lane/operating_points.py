"""The lane's operating points: the open-set (FPIR) point of the 1:N search and the
document stage's 1:1 (FMR) point, where each comes from, and how ``lane calibrate`` fits
the document one on lane tracks (``lane.verification``).

A document point is on raw calibrated scores or on T-normed ones (``match.normalise``);
a T-norm point needs a gallery large enough to be its cohort, so it travels with a raw
fallback and the pipeline takes the first it can use (:func:`choose_document_point`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from bordermatch.errors import ConfigError
from bordermatch.lane.verification import VerificationData
from bordermatch.match.calibrate import threshold_for_rate
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.fusion import load_matcher
from bordermatch.match.normalise import MIN_COHORT, usable


def default_thresholds_path(model: str) -> Path:
    return Path(str(resources.files("bordermatch.lane").joinpath(f"open_set_{model}.json")))


def load_operating_point(model: str, path: Path | None = None) -> OperatingPoint:
    """The lane's open-set operating point for ``model``; ConfigError when there is none
    (an uncalibrated recognizer must not decide anything)."""
    path = Path(path or default_thresholds_path(model))
    if not path.is_file():
        raise ConfigError(f"no open-set operating point for {model!r} at {path}; "
                          "run `bordermatch lane calibrate`")
    point = OperatingPoint.load(path)
    if point.model != model or point.rate != "FPIR":
        raise ConfigError(f"{path}: an {point.rate} operating point for {point.model!r}, "
                          f"not an FPIR one for {model!r}")
    return point


def load_document_point(model: str, path: Path) -> OperatingPoint:
    """A document-stage (1:1, FMR) operating point fitted by ``lane calibrate``."""
    point = OperatingPoint.load(path)
    if point.model != model or point.rate != "FMR":
        raise ConfigError(f"{path}: an {point.rate} operating point for {point.model!r}, "
                          f"not an FMR one for {model!r}")
    return point


def default_document_path(model: str, norm: str | None = None) -> Path:
    name = f"document_{model}.json" if norm is None else f"document_{model}_{norm}.json"
    return Path(str(resources.files("bordermatch.lane").joinpath(name)))


def document_points(model: str, target_fmr: float, path: Path | None = None,
                    norm: str | None = "snorm",
                    ) -> tuple[OperatingPoint, OperatingPoint | None]:
    """The document stage's operating point, and a fallback on raw scores for a gallery
    too small to be a T-norm cohort (``lane.pipeline.LanePipeline``).

    ``path`` wins; else the bundled point on ``norm`` scores at ``target_fmr``
    (``lane/document_<model>_<norm>.json``); else :func:`document_point_for`.
    """
    chosen = load_document_point(model, path) if path is not None else None
    if chosen is None and norm is not None:
        bundled = default_document_path(model, norm)
        if bundled.is_file():
            point = load_document_point(model, bundled)
            if math.isclose(point.target, target_fmr, rel_tol=1e-9) \
                    and point.normalisation == norm:
                chosen = point
    if chosen is None:
        return document_point_for(model, target_fmr), None
    if chosen.normalisation is None:
        return chosen, None
    return chosen, document_point_for(model, chosen.target)


def document_point_for(model: str, target_fmr: float,
                       path: Path | None = None) -> OperatingPoint:
    """The document stage's 1:1 operating point for ``model`` at ``target_fmr``.

    ``path`` (from ``lane calibrate --document-out``) wins. Otherwise the bundled point
    fitted on lane tracks (``lane/document_<model>.json``) when it is for this FMR: the
    FMR of a fused lane track is not that of a still photo (docs/lane.md). Any other FMR
    comes from the recognizer's bundled 1:1 calibration of still photos.
    """
    if path is not None:
        return load_document_point(model, path)
    bundled = default_document_path(model)
    if bundled.is_file():
        point = load_document_point(model, bundled)
        if math.isclose(point.target, target_fmr, rel_tol=1e-9):
            return point
    return load_matcher(model).operating_point(
        target_fmr, provenance=f"bundled calibration of {model} (still photos)")


def choose_document_point(points: Sequence[OperatingPoint | None], model: str,
                          norm: str | None, gallery_size: int) -> OperatingPoint | None:
    """The first of ``points`` a pipeline for ``model`` can use: on raw scores, or on the
    configured ``norm`` with a cohort (gallery) of at least MIN_COHORT travellers."""
    given = [p for p in points if p is not None]
    for p in given:
        if p.model != model or p.rate != "FMR":
            raise ConfigError(f"document operating point: {p.rate} for {p.model!r}, "
                              f"not FMR for {model!r}")
    for p in given:
        wanted = p.normalisation is None or p.normalisation == norm
        if wanted and usable(p.normalisation, gallery_size):
            return p
    if given:
        raise ConfigError(f"the document operating point is on {given[0].normalisation} "
                          f"scores, which need a gallery of at least {MIN_COHORT} "
                          f"travellers (this one has {gallery_size}) and document_norm "
                          "set to it; give a point on raw scores")
    return None


def calibration_norm(pipeline: Any) -> str | None:
    """The scale ``lane calibrate`` fits the document threshold on: the configured one."""
    norm = pipeline.config.document_norm
    if not usable(norm, len(pipeline.search)):
        raise ConfigError(f"{norm} document scores need a gallery of at least {MIN_COHORT} "
                          f"travellers, not {len(pipeline.search)}: calibrate with "
                          "--document-norm none")
    return norm


def document_operating_point(data: VerificationData, model: str, target_fmr: float,
                             source: str, normalisation: str | None = None,
                             ) -> OperatingPoint:
    """The document stage's 1:1 threshold for ``target_fmr`` per comparison, fitted on the
    non-mated comparisons of lane tracks with travellers not in their vehicle."""
    nonmated = data.nonmated_scores()
    if not nonmated.size or not data.mated:
        raise ConfigError(f"{source}: need mated and non-mated comparisons to calibrate")
    return OperatingPoint(
        model, "FMR", target_fmr, threshold_for_rate(nonmated, target_fmr), None, None,
        int(nonmated.size),
        f"bordermatch lane calibrate, document stage, {nonmated.size} non-mated 1:1 "
        f"comparisons of lane tracks and {len(data.mated)} mated occupants"
        f"{'' if normalisation is None else f', {normalisation} scores'}: {source}",
        normalisation)
