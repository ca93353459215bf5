"""Capture quality: NFIQ 2 (ISO/IEC 29794-4) and the recapture decision.

The score is NFIQ 2 v2.3.0's unified quality score, 0 (worst) to 100 (best), computed by
NIST's own library as built into nbis-py (its agreement with NIST's reference output is
shown in docs/fingerprints.md). Higher is better; a capture is good enough when
``score >= min_score`` (a score equal to the threshold passes).

An image is *not a fingerprint* when NIST's SIVV spectral test (NBIS ``misc/sivv``: a
fingerprint has a ring of ridge frequency in its power spectrum) rejects it, or when NFIQ 2's
actionable feedback says so, with NIST's own thresholds
(``NFIQ2::Thresholds::ActionableQualityFeedback``): a uniform image (grey-level standard
deviation < 1), an empty one (mean grey > 250), fewer than 5 minutiae found by
FingerJet FX, or less than 50,000 foreground pixels -- or when NFIQ 2 refuses the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bordermatch.errors import NotAFingerprintError
from bordermatch.fingerprint import _nbis
from bordermatch.fingerprint.capture import FingerprintImage

__all__ = [
    "DEFAULT_MIN_NFIQ2",
    "FingerprintQuality",
    "Nfiq2Assessor",
    "QualityAssessor",
    "check_is_fingerprint",
    "needs_recapture",
]

# NFIQ 2 scores of plain live-scan prints cluster from 40 to 80; 30 is the level below which
# NIST's NFIQ 2 report finds comparison scores degrade markedly, so a handheld capture
# under it asks for a recapture. Configurable per deployment.
DEFAULT_MIN_NFIQ2 = 30

UNIFORM_MAX_SIGMA = 1.0
EMPTY_MIN_MEAN = 250.0
MIN_MINUTIAE = 5.0
MIN_FOREGROUND = 50_000.0


@dataclass(frozen=True, slots=True)
class FingerprintQuality:
    """NFIQ 2 result: the unified ``score`` and the actionable feedback values."""

    score: int
    uniform_image: float  # grey-level standard deviation
    mean_grey: float  # NFIQ 2 "EmptyImageOrContrastTooLow"
    minutiae_count: float  # FingerJet FX minutiae
    foreground_pixels: float
    algorithm: str = f"NFIQ 2 v{_nbis.NFIQ2_VERSION}"


class QualityAssessor(Protocol):
    def assess(self, image: FingerprintImage) -> FingerprintQuality: ...


class Nfiq2Assessor:
    """NFIQ 2 through the NBIS backend. Raises NotAFingerprintError (see module doc)."""

    def assess(self, image: FingerprintImage) -> FingerprintQuality:
        return self.assess_encoded(image.png_bytes(), "image")

    def assess_encoded(self, data: bytes, name: str) -> FingerprintQuality:
        """NFIQ 2 of an encoded image the backend decodes itself (PNG, PGM, TIFF, JPEG)."""
        try:
            minutiae = _nbis.extractor(True, True).extract_minutiae(data)
        except _nbis.nbis_errors() as exc:
            raise NotAFingerprintError(f"{name}: NFIQ 2 cannot assess it ({exc!r})") from None
        if not minutiae.get():
            # NFIQ 2 alone scores photos and noise 12-33 and passes its own checks on them.
            raise NotAFingerprintError(f"{name}: not a fingerprint (SIVV found no ridge "
                                       f"frequency)")
        result = minutiae.quality()
        values = {v.name: float(v.value) for v in result.actionable}
        quality = FingerprintQuality(
            score=int(result.score),
            uniform_image=values.get("UniformImage", float("nan")),
            mean_grey=values.get("EmptyImageOrContrastTooLow", float("nan")),
            minutiae_count=values.get("FingerprintImageWithMinutiae", float("nan")),
            foreground_pixels=values.get("SufficientFingerprintForeground", float("nan")),
        )
        check_is_fingerprint(quality, name)
        return quality

    def features(self, data: bytes) -> dict[str, float]:
        """All values NFIQ 2 reports (actionable and native measures), for agreement checks."""
        result = _nbis.extractor(True).extract_minutiae(data).quality()
        out = {"UnifiedQualityScore": float(result.score)}
        out.update({v.name: float(v.value) for v in (*result.actionable, *result.features)})
        return out


def check_is_fingerprint(q: FingerprintQuality, name: str = "image") -> None:
    """Raise NotAFingerprintError when the actionable feedback rules the image out.
    Comparisons are written so that NaN (a value NFIQ 2 did not report) also fails."""
    reasons = []
    if not q.uniform_image >= UNIFORM_MAX_SIGMA:
        reasons.append(f"uniform image (sigma {q.uniform_image:.2f})")
    if not q.mean_grey <= EMPTY_MIN_MEAN:
        reasons.append(f"empty or too little contrast (mean grey {q.mean_grey:.0f})")
    if not q.minutiae_count >= MIN_MINUTIAE:
        reasons.append(f"{q.minutiae_count:.0f} minutiae")
    if not q.foreground_pixels >= MIN_FOREGROUND:
        reasons.append(f"{q.foreground_pixels:.0f} foreground pixels")
    if reasons:
        raise NotAFingerprintError(f"{name}: not a fingerprint: {'; '.join(reasons)}")


def needs_recapture(q: FingerprintQuality, min_score: int = DEFAULT_MIN_NFIQ2) -> bool:
    """True when the capture should be taken again (``score < min_score``)."""
    return q.score < min_score
