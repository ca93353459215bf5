"""1:1 comparison of finger templates and its calibration to a target false match rate.

Score: Bozorth3's integer score (NBIS), higher is more similar, 0 for no corresponding
minutia pairs; it is not a probability and is not bounded above. A comparison is a match
when ``score >= threshold`` (ties match), with the threshold chosen as the smallest one
whose empirical FMR on impostor comparisons is at most the target
(:func:`bordermatch.match.calibrate.threshold_for_rate`). The shipped calibration
(``calibration.json`` beside this module) records the data and software it was made with.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bordermatch.errors import ConfigError
from bordermatch.fingerprint import _nbis
from bordermatch.fingerprint.minutiae import FingerTemplate
from bordermatch.match.calibrate import threshold_for_rate
from bordermatch.match.decide import OperatingPoint, decide
from bordermatch.types import Decision

__all__ = [
    "DEFAULT_TARGET_FMR",
    "Bozorth3",
    "Comparator",
    "ScoreCalibration",
    "calibrate",
    "compare_decision",
    "load_calibration",
]

DEFAULT_TARGET_FMR = 1e-3
CALIBRATION_FILE = "calibration.json"
MAX_MINUTIAE = 150  # NBIS bozorth3's MAX_BOZORTH_MINUTIAE


class Comparator(Protocol):
    """A 1:1 matcher. ``prepare`` turns a template into the matcher's own form once, so a
    watchlist pays for it at enrolment and not per comparison."""

    name: str

    def prepare(self, template: FingerTemplate) -> Any: ...

    def compare(self, probe: Any, reference: Any) -> float: ...


class Bozorth3:
    """NBIS Bozorth3 through nbis-py. Keeps the 150 most reliable minutiae of each side."""

    name = "bozorth3"
    version = f"NBIS Bozorth3 via {_nbis.NBIS_PACKAGE} {_nbis.NBIS_VERSION}"

    def prepare(self, template: FingerTemplate) -> Any:
        # As NBIS's bozorth3 does (bz_prune): the 150 most reliable, then in x, y order.
        # Bozorth3 depends on the order: the binding's own quality order cost UPEK 1_1's
        # self-comparison 310 -> 266.
        rows = sorted(template.rows()[:MAX_MINUTIAE], key=lambda r: (r[1], r[2]))
        return _nbis.to_nbis(template.width, template.height, rows)

    def compare(self, probe: Any, reference: Any) -> float:
        return float(probe.compare(reference))

    def compare_templates(self, a: FingerTemplate, b: FingerTemplate) -> float:
        return self.compare(self.prepare(a), self.prepare(b))


@dataclass(frozen=True, slots=True)
class ScoreCalibration:
    """Thresholds of one algorithm for several target FMRs, with their provenance."""

    algorithm: str
    thresholds: Mapping[float, float]  # target FMR -> threshold
    n_impostor: int
    n_genuine: int
    provenance: Mapping[str, Any] = field(default_factory=dict)
    # Count of impostor comparisons per integer score 0, 1, 2...: lets the watchlist derive
    # thresholds for a target FPIR at any probe size and watchlist size.
    impostor_histogram: tuple[int, ...] = ()

    def impostor_scores(self) -> list[float]:
        """The impostor scores again, from the histogram (integer scores only)."""
        return [float(s) for s, c in enumerate(self.impostor_histogram) for _ in range(c)]

    def threshold(self, target_fmr: float = DEFAULT_TARGET_FMR) -> float:
        for target, value in self.thresholds.items():
            if abs(target - target_fmr) <= 1e-12 * max(target, target_fmr):
                return value
        raise ConfigError(
            f"no {self.algorithm} threshold calibrated for FMR {target_fmr:g} (calibrated: "
            f"{', '.join(f'{t:g}' for t in sorted(self.thresholds))})"
        )

    def operating_point(self, target_fmr: float = DEFAULT_TARGET_FMR) -> OperatingPoint:
        """The 1:1 operating point at ``target_fmr``, for the one decision rule."""
        source = ", ".join(f"{k}={v}" for k, v in sorted(self.provenance.items()))
        return OperatingPoint(self.algorithm, "FMR", target_fmr, self.threshold(target_fmr),
                              samples=self.n_impostor, provenance=source)

    def to_json(self) -> str:
        doc = {
            "algorithm": self.algorithm,
            "score_direction": "higher is more similar; score >= threshold is a match",
            "thresholds": [{"target_fmr": t, "threshold": v}
                           for t, v in sorted(self.thresholds.items())],
            "n_impostor": self.n_impostor,
            "n_genuine": self.n_genuine,
            "provenance": dict(self.provenance),
            "impostor_histogram": list(self.impostor_histogram),
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ScoreCalibration:
        try:
            doc = json.loads(text)
            thresholds = {float(r["target_fmr"]): float(r["threshold"])
                          for r in doc["thresholds"]}
            hist = tuple(int(c) for c in doc.get("impostor_histogram", ()))
            return cls(str(doc["algorithm"]), thresholds, int(doc["n_impostor"]),
                       int(doc["n_genuine"]), dict(doc.get("provenance", {})), hist)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"malformed fingerprint calibration ({exc})") from None


def load_calibration(path: str | Path | None = None) -> ScoreCalibration:
    """The calibration at ``path``, or the one shipped with bordermatch."""
    if path is None:
        text = resources.files("bordermatch.fingerprint").joinpath(CALIBRATION_FILE).read_text()
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read calibration {path}: {exc}") from None
    return ScoreCalibration.from_json(text)


def calibrate(genuine: Sequence[float], impostor: Sequence[float],
              targets: Sequence[float], algorithm: str,
              provenance: Mapping[str, Any]) -> ScoreCalibration:
    """Thresholds for each target FMR from impostor scores (genuine scores are only
    counted, for the record). Raises MetricError for targets below 1/len(impostor)."""
    thresholds = {float(t): threshold_for_rate(impostor, t) for t in targets}
    stamp = {"calibrated_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    integer = all(float(s).is_integer() and s >= 0 for s in impostor)
    hist = tuple(np.bincount(np.asarray(impostor, dtype=np.int64)).tolist()) if integer else ()
    return ScoreCalibration(algorithm, thresholds, len(impostor), len(genuine),
                            {**provenance, **stamp}, hist)


def compare_decision(score: float, calibration: ScoreCalibration,
                     target_fmr: float = DEFAULT_TARGET_FMR) -> Decision:
    """The 1:1 decision at the calibrated threshold, through the project's one rule."""
    return decide(score, calibration.operating_point(target_fmr))
