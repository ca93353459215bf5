"""The one subject-face rule: which face of a portrait or document photo is its subject.

Every caller that picks "the" face of a photo uses this module: gallery enrolment, the
service's enrolment, ``verify`` (single and batch), ``detect`` and the LFW evaluation.
What users run is then what was measured.

Rule:
1. Detect once at the retry score (0.3). Keep the faces at the detector's own operating
   point when there are any; only when there are none use the weaker ones ("retry"): a
   photo that must show one person is better served by a weak face than by no face.
2. The subject is the largest face, its area discounted by its centre's distance from the
   photo's centre (a portrait is framed on its subject; bystanders sit at the edges).
3. The photo is ambiguous when another face at least ``SECOND_FACE_AREA`` of the
   subject's area has its centre in the central half of the photo.

Running the detector once at the lower score and filtering at the operating point returns
exactly the faces a detector built at the operating point would: NMS is greedy in score
order, so a weaker box never suppresses a stronger one, and ``top_k`` keeps the best.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bordermatch import registry
from bordermatch.errors import NoFaceError
from bordermatch.protocols import Detector, ThresholdedDetector
from bordermatch.types import Face, Image

RETRY_SCORE = 0.3
# A second face at least this fraction of the subject's area, with its centre in the central
# half of the photo, makes the photo ambiguous. Smaller or off-centre faces are bystanders
# (LFW-style news photos have them in ~5% of images; a document photo should have none).
SECOND_FACE_AREA = 0.5


@dataclass(frozen=True, slots=True, eq=False)
class SubjectChoice:
    """The subject of one photo and how sure the choice is."""

    face: Face
    ambiguous: bool  # another face of similar size near the centre
    n_faces: int  # faces the choice was made among (the strong ones, or the weak on retry)
    retried: bool  # no face at the operating point; the subject comes from the retry score


def choose_subject(faces: Sequence[Face], width: int, height: int,
                   retried: bool = False) -> SubjectChoice:
    """Apply the rule (steps 2 and 3) to the faces of a ``width`` x ``height`` photo."""
    if not faces:
        raise NoFaceError("no face found")

    def offset(f: Face) -> tuple[float, float]:
        return ((f.box[0] + f.box[2]) / 2 / width - 0.5, (f.box[1] + f.box[3]) / 2 / height - 0.5)

    def weight(f: Face) -> float:
        return f.width * f.height * (1.0 - float(np.hypot(*offset(f))))

    ranked = sorted(faces, key=lambda f: -weight(f))
    subject = ranked[0]
    area = subject.width * subject.height
    ambiguous = any(f.width * f.height >= SECOND_FACE_AREA * area
                    and max(abs(c) for c in offset(f)) < 0.25 for f in ranked[1:])
    return SubjectChoice(subject, ambiguous, len(faces), retried)


@dataclass(frozen=True, slots=True)
class PortraitDetector:
    """A detector built at the retry score, seen at its operating point unless it must retry.

    ``detect`` returns only faces at ``operating_score`` (what every other caller of a
    detector gets); ``subject`` applies the whole rule. With ``operating_score`` at or
    below the detector's own threshold there is nothing to retry with.
    """

    detector: Detector
    operating_score: float = 0.0

    @property
    def name(self) -> str:
        return self.detector.name

    def detect(self, image: Image) -> list[Face]:
        return [f for f in self.detector.detect(image) if f.score >= self.operating_score]

    def candidates(self, image: Image) -> tuple[list[Face], bool]:
        """The faces the subject is chosen among, and whether that needed the retry."""
        faces = self.detector.detect(image)
        strong = [f for f in faces if f.score >= self.operating_score]
        return (strong, False) if strong or not faces else (faces, True)

    def subject(self, image: Image) -> SubjectChoice:
        """The photo's subject; NoFaceError when there is no face even at the retry score."""
        faces, retried = self.candidates(image)
        return choose_subject(faces, image.shape[1], image.shape[0], retried)


def portrait_detector(name: str, options: Mapping[str, float] | None = None,
                      operating: Detector | None = None,
                      retry_score: float = RETRY_SCORE) -> PortraitDetector:
    """The registered detector ``name`` (with ``options``) as a PortraitDetector.

    ``operating`` is the same detector already built at its operating point, when the
    caller has one (its threshold is read from it, so each detector keeps its own
    calibrated default). A detector without a ``score_threshold`` cannot be asked for
    weaker faces, and one whose operating point is already at or below ``retry_score``
    has none to give: both are used as they are, without retry.
    """
    options = dict(options or {})
    operating = operating or registry.create("detector", name, **options)
    if not isinstance(operating, ThresholdedDetector):
        return PortraitDetector(operating)
    score = float(operating.score_threshold)
    if score <= retry_score:
        return PortraitDetector(operating, score)
    # A second session of the same (already verified and prepared) graph: ~30 ms and a few
    # MB, and the operating detector that gates and lanes use stays untouched.
    low = registry.create("detector", name, **{**options, "score_threshold": retry_score})
    return PortraitDetector(low, score)


def as_portrait(detector: Detector | PortraitDetector) -> PortraitDetector:
    """Wrap a plain detector (fakes, plug-ins) so it follows the rule without a retry."""
    return detector if isinstance(detector, PortraitDetector) else PortraitDetector(detector)
