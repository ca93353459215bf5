"""The face engine: detect -> align -> quality -> embed -> compare, on injected backends.

Construction loads models (that is the one slow, side-effecting step); everything after it
is pure array work. Recognizers are created lazily, so a cascade that rarely needs dlib
only pays for loading it when it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bordermatch import registry
from bordermatch.config import Settings
from bordermatch.errors import AmbiguousFaceError
from bordermatch.gallery.enrol import PortraitDetector, SubjectChoice, portrait_detector
from bordermatch.match.decide import decide
from bordermatch.match.fusion import Matcher, load_matcher
from bordermatch.protocols import Detector, Embedder, QualityAssessor
from bordermatch.quality.measures import FaceQualityAssessor
from bordermatch.types import Comparison, Decision, Face, FaceSample, Image, Template


@dataclass(frozen=True, slots=True)
class SubjectSample:
    """The subject of a photo (gallery.enrol's rule) and its quality and templates."""

    sample: FaceSample
    choice: SubjectChoice


@dataclass(frozen=True, slots=True)
class Verification:
    comparison: Comparison
    decision: Decision
    a: FaceSample
    b: FaceSample
    subjects: tuple[SubjectChoice, SubjectChoice] | None = None


class FaceEngine:
    def __init__(
        self,
        detector: Detector,
        embedders: Mapping[str, Callable[[], Embedder]],
        matcher: Matcher,
        quality: QualityAssessor | None = None,
        target_fmr: float = 1e-4,
        portrait: PortraitDetector | None = None,
    ) -> None:
        # ``detector`` answers at its operating point (gates and lanes use it); ``portrait``
        # chooses the subject of a photo and may retry at a lower score.
        self.detector = detector
        self.portrait = portrait or PortraitDetector(detector)
        self._embedder_factories = dict(embedders)
        self._embedders: dict[str, Embedder] = {}
        self.matcher = matcher
        self.quality = quality or FaceQualityAssessor()
        self.point = matcher.operating_point(target_fmr)

    @classmethod
    def from_settings(cls, settings: Settings) -> FaceEngine:
        options = settings.detector_options()
        detector = registry.create("detector", settings.detector, **options)
        portrait = portrait_detector(settings.detector, options, detector)
        matcher = load_matcher(settings.matcher)
        models = matcher.first_models + matcher.second_models
        factories = {m: _lazy(m) for m in models}
        return cls(detector, factories, matcher, target_fmr=settings.target_fmr,
                   portrait=portrait)

    def embedder(self, model: str) -> Embedder:
        if model not in self._embedders:
            self._embedders[model] = self._embedder_factories[model]()
        return self._embedders[model]

    # -- single image -------------------------------------------------------------------
    def detect(self, image: Image) -> list[Face]:
        return self.detector.detect(image)

    def samples(self, image: Image, faces: Sequence[Face] | None = None,
                models: Sequence[str] | None = None) -> list[FaceSample]:
        """Quality and templates for each face (default: every detected face)."""
        faces = self.detect(image) if faces is None else list(faces)
        if not faces:
            return []
        models = tuple(models) if models is not None else self.matcher.first_models
        vectors = {m: self.embedder(m).embed(image, faces) for m in models}
        return [
            FaceSample(
                face=f,
                quality=self.quality.assess(image, f),
                templates=tuple(Template(vectors[m][i], m) for m in models),
            )
            for i, f in enumerate(faces)
        ]

    def subject_sample(self, image: Image, models: Sequence[str] | None = None) -> SubjectSample:
        """The subject of a portrait or document photo (gallery.enrol's rule), embedded.

        Raises NoFaceError when there is none; an ambiguous photo is returned with
        ``choice.ambiguous`` set, for the caller to report or refuse.
        """
        choice = self.portrait.subject(image)
        return SubjectSample(self.samples(image, [choice.face], models)[0], choice)

    def primary_sample(self, image: Image, models: Sequence[str] | None = None, *,
                       refuse_ambiguous: bool = False) -> FaceSample:
        """The subject's sample; with ``refuse_ambiguous`` (enrolment) an ambiguous photo
        raises AmbiguousFaceError instead of enrolling a face that may be someone else's."""
        subject = self.subject_sample(image, models)
        if refuse_ambiguous and subject.choice.ambiguous:
            raise AmbiguousFaceError(
                f"{subject.choice.n_faces} faces, another one of similar size near the centre:"
                " the photo must show its subject alone")
        return subject.sample

    def add_templates(self, image: Image, sample: FaceSample,
                      models: Sequence[str]) -> FaceSample:
        missing = [m for m in models if m not in {t.model for t in sample.templates}]
        if not missing:
            return sample
        extra = tuple(Template(self.embedder(m).embed(image, [sample.face])[0], m)
                      for m in missing)
        return FaceSample(sample.face, sample.quality, sample.templates + extra)

    # -- comparison -----------------------------------------------------------------------
    def raw_scores(self, a: FaceSample, b: FaceSample) -> dict[str, float]:
        have_a = {t.model for t in a.templates}
        have_b = {t.model for t in b.templates}
        return {
            m: float(np.dot(a.template(m).vector, b.template(m).vector))
            for m in sorted(have_a & have_b)
        }

    def compare(self, a: FaceSample, b: FaceSample) -> Comparison:
        raw = self.raw_scores(a, b)
        return Comparison(fused=self.matcher.score(raw), scores=tuple(sorted(raw.items())))

    def verify(self, image_a: Image, image_b: Image) -> Verification:
        return self.verify_subjects(image_a, self.subject_sample(image_a),
                                    image_b, self.subject_sample(image_b))

    def verify_subjects(self, image_a: Image, subject_a: SubjectSample, image_b: Image,
                        subject_b: SubjectSample) -> Verification:
        """``verify`` on subjects already found (a caller that must tell which photo has
        no face, as the booth does)."""
        a, b = subject_a.sample, subject_b.sample
        if self.matcher.needs_second(self.raw_scores(a, b)):
            second = self.matcher.second_models
            a = self.add_templates(image_a, a, second)
            b = self.add_templates(image_b, b, second)
        comparison = self.compare(a, b)
        return Verification(comparison, decide(comparison.fused, self.point), a, b,
                            (subject_a.choice, subject_b.choice))


def _lazy(model: str) -> Callable[[], Embedder]:
    return lambda: registry.create("embedder", model)
