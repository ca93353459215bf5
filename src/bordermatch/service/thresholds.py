"""The service's operating points, built once at start-up and frozen.

Every score the service reports or decides on is on the calibrated log-odds scale of its
search recognizer (``match.fusion``). Gates and vehicles decide 1:N searches at one open-set
operating point (FPIR), so the same face gets the same answer in a lane and at a gate; the
1:1 check (``/v1/verify``) decides at the configured FMR; enrolment flags one face under two
identities at the strictest calibrated FMR. Documents read for a vehicle (RFID, MRZ, chip)
are verified 1:few at ``document_fmr`` before the 1:N search (``match.decide``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bordermatch.match.decide import OperatingPoint
from bordermatch.match.fusion import LogisticScore, Matcher, RateAt, load_matcher
from bordermatch.store.config import ServiceSettings


@dataclass(frozen=True, slots=True)
class ServiceThresholds:
    model: str  # the search recognizer: its templates are stored and searched
    scale: LogisticScore  # its calibration: raw cosine -> log-odds
    verify: OperatingPoint  # 1:1, the configured matcher at target_fmr
    search: OperatingPoint  # 1:N at gates and in vehicle lanes (FPIR)
    document: OperatingPoint  # 1:few against the documents read for an encounter (FMR)
    # On raw scores, for a gallery too small to T-normalise by (lane.pipeline); None when
    # ``document`` is on raw scores itself.
    document_fallback: OperatingPoint | None
    alias: OperatingPoint  # enrolment: another identity this similar is flagged
    calibration: Matcher  # the search recognizer's 1:1 calibration (scale and FMR table)

    def fmr_at(self, score: float) -> RateAt:
        """The 1:1 false match rate a calibrated score corresponds to (for the officer)."""
        return self.calibration.fmr_at(score)


def build_thresholds(settings: ServiceSettings) -> ServiceThresholds:
    """Raises ConfigError, at start-up, for anything uncalibrated: nothing falls back."""
    from bordermatch.lane.operating_points import document_points, load_operating_point

    matcher = load_matcher(settings.matcher)
    model = matcher.first_models[0]
    scorer = load_matcher(model)
    search = load_operating_point(model, settings.search_operating_point)
    document, fallback = document_points(model, settings.document_fmr)
    alias_fmr = settings.alias_fmr or min(f for f, _ in scorer.thresholds)
    return ServiceThresholds(
        model=model, scale=scorer.primary,
        verify=matcher.operating_point(settings.target_fmr),
        search=search,
        # The lane-fitted 1:1 point at this FMR when bundled (lane.runner).
        document=document, document_fallback=fallback,
        alias=scorer.operating_point(alias_fmr, provenance=f"bundled calibration of {model}"),
        calibration=scorer)
