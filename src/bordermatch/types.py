"""Frozen value types that flow through the pipeline.

Conventions: images are ``uint8`` RGB arrays of shape (H, W, 3); coordinates are pixels in
that image, x to the right and y down. Landmarks follow the 5-point order used by YuNet,
SCRFD and the ArcFace template: the eye on the image's left, the eye on the image's right,
nose tip, left mouth corner, right mouth corner (left/right as seen in the image).
Arrays are never compared with ``==``, so the classes holding them use ``eq=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Vector = NDArray[np.float32]


@dataclass(frozen=True, slots=True, eq=False)
class Face:
    """One detected face: box (x1, y1, x2, y2), five landmarks (5, 2) and detector confidence."""

    box: NDArray[np.float32]
    landmarks: NDArray[np.float32]
    score: float
    detector: str = ""

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def inter_eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))


@dataclass(frozen=True, slots=True)
class Quality:
    """A subset of the ISO/IEC 29794-5 quality components for one face.

    Native measures keep their units (pixels, degrees, fractions); ``unified`` is the
    0-100 unified quality score (100 is best). See ``bordermatch.quality`` for definitions.
    """

    inter_eye_distance: float  # pixels between eye centres
    head_size: float  # face box height in pixels
    sharpness: float  # 0-100, variance of the Laplacian on the aligned crop, mapped
    under_exposure: float  # fraction of face pixels at or below luminance 15 (0-1)
    over_exposure: float  # fraction of face pixels at or above luminance 240 (0-1)
    dynamic_range: float  # bits of luminance range used by the central 98% of pixels (0-8)
    luminance_mean: float  # mean face luminance, 0-255
    yaw: float  # degrees, estimated from landmarks; 0 is frontal
    pitch: float
    roll: float
    unified: float  # 0-100


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """A biometric template: an L2-normalised embedding from one recognizer."""

    vector: Vector
    model: str


@dataclass(frozen=True, slots=True, eq=False)
class FaceSample:
    """A face that went through detect -> align -> quality -> embed."""

    face: Face
    quality: Quality
    templates: tuple[Template, ...]

    def template(self, model: str) -> Template:
        for t in self.templates:
            if t.model == model:
                return t
        raise KeyError(f"no {model!r} template; have {[t.model for t in self.templates]}")


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of comparing two samples: per-matcher raw scores and the fused score.

    Higher scores mean more similar. ``fused`` is on the scale of the configured matcher
    (see ``bordermatch.match.fusion``) and is what thresholds apply to.
    """

    fused: float
    scores: tuple[tuple[str, float], ...]


class Outcome(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    REVIEW = "review"
    NO_CAPTURE = "no_capture"


class Reason(StrEnum):
    """Why a decision came out as it did: one vocabulary for 1:1, gates, lanes and booths,
    shown to the officer who reviews it (``bordermatch.match.decide``)."""

    ABOVE_THRESHOLD = "above_threshold"  # match: the score reached the match threshold
    BELOW_THRESHOLD = "below_threshold"  # no match: below the review (or match) threshold
    REVIEW_BAND = "review_band"  # between the review and the match threshold
    RUNNER_UP = "runner_up"  # a match, but a second identity also reaches review
    ALIAS = "alias"  # as RUNNER_UP, and the two identities are flagged as one face
    NO_CAPTURE = "no_capture"  # no face of usable quality
    OPTED_OUT = "opted_out"  # the traveller opted out: manual inspection, no face matching
    # A booth's or kiosk's document check (service/booth.py): each sends the traveller to an
    # officer, whatever the face says.
    TAMPERED_CHIP = "tampered_chip"  # passive authentication: a hash or signature fails
    UNTRUSTED_CHIP = "untrusted_chip"  # no trusted, currently valid CSCA vouches for it
    UNSUPPORTED_CHIP = "unsupported_chip"  # an algorithm passive authentication lacks
    INVALID_MRZ = "invalid_mrz"  # the chip's DG1 fails an MRZ check
    EXPIRED_DOCUMENT = "expired_document"
    NO_DOCUMENT_FACE = "no_document_face"  # no face in the chip or data-page photo
    NO_MATCH = "no_match"  # the live face does not match the document photo (1:1)


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision, its reason, and the operating point it was taken at.

    ``rate`` names what ``target`` is: ``"FMR"`` for 1:1 comparisons, ``"FPIR"`` for 1:N
    searches. ``runner_up`` is the score of the best other identity, where one exists.
    ``scale`` is the operating point's score normalisation (``match.normalise``; None: the
    recognizer's calibrated scale, on which ``Matcher.fmr_at`` reads a rate off a score).
    """

    outcome: Outcome
    reason: Reason
    score: float | None
    threshold: float
    rate: str
    target: float
    runner_up: float | None = None
    scale: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One entry of a 1:N candidate list (rank 1 is the best)."""

    traveler_id: str
    score: float
    rank: int


@dataclass(frozen=True, slots=True)
class Occupant:
    """A vehicle occupant: one track of faces across frames and cameras, and its outcome."""

    track_id: int
    traveler_id: str | None
    score: float | None
    decision: Outcome
    quality: float | None
    shots: int = 0
    cameras: tuple[str, ...] = ()
    seat: str | None = None
    reason: str | None = None  # the decision's Reason (bordermatch.match.decide)
    source: str | None = None  # "document" (1:few against a read) or "gallery" (1:N)
    document: tuple[str, str] | None = None  # the read that decided it: (number, nationality)
    # The full decision (threshold, rate, target, runner-up score) and the runner-up's id,
    # so that a reviewing officer sees what the one decision path saw.
    detail: Decision | None = None
    runner_up_id: str | None = None
    best_shot: BestShot | None = None  # the track's highest-quality face, for review


@dataclass(frozen=True, slots=True, eq=False)
class BestShot:
    """Where a track's best face was seen: ``frame`` is the index among the camera's frames
    the lane looked at (``LanePipeline.frame_ref`` names it), ``box`` in its pixels."""

    camera: str
    frame: int
    box: tuple[float, float, float, float]
    quality: float
    vector: Vector | None = None  # its template, when it was embedded
    measures: Quality | None = None  # its quality components


@dataclass(frozen=True, slots=True)
class LaneResult:
    """The outcome of one vehicle event (the DESIGN.md lane results line)."""

    event_id: str
    occupants: tuple[Occupant, ...]
    latency_ms: float
    error: str | None = None
    timings_ms: tuple[tuple[str, float], ...] = field(default=())
    error_detail: str | None = None  # where: the event.json field, the camera, the frame
    # Frames left out (misnamed, unreadable) while the rest decided: (camera, file, reason).
    skipped_frames: tuple[tuple[str, str, str], ...] = ()
    # Travel documents read in the lane: how many, how many named nobody enrolled, and the
    # reads of enrolled travellers whom no face matched: (traveler_id, number, nationality).
    documents_read: int = 0
    documents_unknown: int = 0
    documents_unmatched: tuple[tuple[str, str, str], ...] = ()
