"""bordermatch: biometric entry/exit verification for border crossings.

The public API is deliberately small; everything else is reachable through its module.
"""

from bordermatch.config import Settings
from bordermatch.errors import BordermatchError
from bordermatch.io.images import decode_image, load_image
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.engine import FaceEngine, Verification
from bordermatch.types import (
    Candidate,
    Decision,
    Face,
    FaceSample,
    LaneResult,
    Occupant,
    Outcome,
    Quality,
    Reason,
    Template,
)

__all__ = [
    "BordermatchError",
    "Candidate",
    "Decision",
    "Face",
    "FaceEngine",
    "FaceSample",
    "LaneResult",
    "Occupant",
    "OperatingPoint",
    "Outcome",
    "Quality",
    "Reason",
    "Settings",
    "Template",
    "Verification",
    "decode_image",
    "load_image",
]
__version__ = "0.1.0"
