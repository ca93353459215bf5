"""Simulator parameters, difficulty presets and the random vehicle scenario (no pixels here).

Every number that shapes a simulated vehicle lives in :class:`SimParams`; docs/lane.md
lists them with their defaults and the reasoning behind each. Ranges are ``(low, high)``
and sampled uniformly unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from bordermatch.errors import ConfigError

Range = tuple[float, float]

# Seats fill in this order of likelihood: a driver always, then the front passenger, ...
SEAT_ORDER = ("r1-left", "r1-right", "r2-left", "r2-right", "r2-middle", "r3-left", "r3-right")
SIDE = {"left": "left", "middle": "middle", "right": "right"}


@dataclass(frozen=True, slots=True)
class SimParams:
    # -- vehicle -----------------------------------------------------------------------
    # P(number of occupants = 1..7); field traffic is mostly 1-2 people per car.
    occupant_weights: tuple[float, ...] = (0.30, 0.28, 0.16, 0.14, 0.06, 0.03, 0.03)
    not_in_gallery: float = 0.10  # fraction of occupants with no gallery entry
    # -- cameras -----------------------------------------------------------------------
    frame_size: tuple[int, int] = (1280, 720)
    frames_front: tuple[int, int] = (3, 4)  # frames from the windshield camera (inclusive)
    frames_side: tuple[int, int] = (3, 4)  # frames from each side camera
    frame_interval_ms: int = 120
    approach_start_scale: Range = (0.70, 0.85)  # size of the car at the first frame vs the last
    # Face width (px, face box) at the last frame, windshield camera, by row.
    front_width: tuple[Range, Range, Range] = ((60, 95), (36, 56), (20, 40))
    # Side cameras see the near-side seats of each row larger, the far side smaller.
    side_near_width: tuple[Range, Range, Range] = ((70, 105), (58, 88), (44, 68))
    side_far_scale: Range = (0.55, 0.75)  # far-side width relative to the near-side width
    side_yaw_squeeze: Range = (0.72, 0.92)  # horizontal foreshortening of an angled view
    # -- occlusion -----------------------------------------------------------------------
    far_side_hidden: Range = (0.2, 0.55)  # fraction of a far-side face hidden by the near one
    headrest_prob: float = 0.35  # windshield view of a row-2/3 face: headrest in front
    headrest_cover: Range = (0.15, 0.4)  # fraction of the face height covered, from below
    sun_visor_prob: float = 0.25  # windshield view of a row-1 face: visor down
    sun_visor_cover: Range = (0.15, 0.35)  # fraction of the face height covered, from above
    sunglasses_prob: float = 0.08
    # -- glass and light ---------------------------------------------------------------
    tint_transmission: Range = (0.35, 0.85)  # light passing the (side) glass
    windshield_transmission: Range = (0.6, 0.95)
    colour_cast: float = 0.15  # max per-channel gain deviation of the tint
    reflection_prob: float = 0.5  # sky/building reflection on a camera's glass
    reflection_strength: Range = (0.15, 0.45)
    glare_prob: float = 0.3  # a saturated sun glint on a frame
    glare_radius: Range = (40, 160)
    # -- sensor -------------------------------------------------------------------------
    motion_blur_px: Range = (0, 7)  # length of the linear blur kernel
    noise_sigma: Range = (2, 8)  # Gaussian sensor noise, 8-bit levels
    jpeg_quality: tuple[int, int] = (45, 85)
    # -- gallery -------------------------------------------------------------------------
    distractors: int = 1000  # gallery entries of people who never drive through
    duplicate_travelers: int = 0  # extra manifest rows reusing a traveler_id (tests)
    # A traveller with a spare photo holds a second document (a visa, a renewed passport)
    # with its own reference photo, with this probability.
    second_reference_prob: float = 0.3
    # -- documents read in the lane (RFID cards, a booth's MRZ) ---------------------------
    document_read_prob: float = 0.85  # an enrolled occupant's document is read
    document_mrz_share: float = 0.2  # of those reads, the share made at a booth (MRZ)
    unenrolled_document_prob: float = 0.3  # an occupant not enrolled carries a read card
    stray_read_prob: float = 0.05  # a vehicle also reads a card from the car beside it
    extra: dict = field(default_factory=dict)


def _scaled(p: SimParams, k: float) -> SimParams:
    """Scale every degradation by k (k < 1 easier, > 1 harder)."""
    def hi(r: Range, cap: float) -> Range:
        return (r[0] * k, min(cap, r[1] * k))

    return replace(
        p,
        headrest_prob=min(1.0, p.headrest_prob * k), sun_visor_prob=min(1.0, p.sun_visor_prob * k),
        sunglasses_prob=min(1.0, p.sunglasses_prob * k),
        far_side_hidden=hi(p.far_side_hidden, 0.8),
        tint_transmission=(max(0.05, 1 - (1 - p.tint_transmission[0]) * k),
                           1 - (1 - p.tint_transmission[1]) * k),
        reflection_prob=min(1.0, p.reflection_prob * k),
        reflection_strength=hi(p.reflection_strength, 0.8),
        glare_prob=min(1.0, p.glare_prob * k),
        motion_blur_px=hi(p.motion_blur_px, 15), noise_sigma=hi(p.noise_sigma, 20),
        jpeg_quality=(int(max(20, 95 - (95 - p.jpeg_quality[0]) * k)),
                      int(max(30, 95 - (95 - p.jpeg_quality[1]) * k))),
    )


DIFFICULTIES = {
    "easy": _scaled(SimParams(), 0.5),
    "default": SimParams(),
    "hard": _scaled(SimParams(), 1.4),
}


def params_for(difficulty: str) -> SimParams:
    try:
        return DIFFICULTIES[difficulty]
    except KeyError:
        raise ConfigError(
            f"unknown difficulty {difficulty!r}; use {sorted(DIFFICULTIES)}") from None


@dataclass(frozen=True, slots=True)
class OccupantPlan:
    seat: str
    person: str
    lane_photo: str  # path of the photo rendered into the frames
    traveler_id: str | None
    sunglasses: bool

    @property
    def row(self) -> int:
        return int(self.seat[1])

    @property
    def side(self) -> str:
        return self.seat.split("-")[1]


def sample_seats(rng: np.random.Generator, p: SimParams) -> list[str]:
    """Seats of a vehicle: a driver always; other seats by SEAT_ORDER preference."""
    weights = np.asarray(p.occupant_weights, dtype=float)
    n = int(rng.choice(np.arange(1, len(weights) + 1), p=weights / weights.sum()))
    if n <= 2:
        return list(SEAT_ORDER[:n])
    # Beyond the front row, seats are taken in a random order with a preference for row 2.
    rest = list(SEAT_ORDER[2:])
    prefs = np.array([3.0, 3.0, 2.0, 1.0, 1.0])
    picked = rng.choice(len(rest), size=n - 2, replace=False, p=prefs / prefs.sum())
    return list(SEAT_ORDER[:2]) + [rest[i] for i in sorted(picked)]


def uniform(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])
