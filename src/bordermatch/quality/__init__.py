"""Face image quality: a subset of the ISO/IEC 29794-5 quality components."""

from bordermatch.quality.measures import FaceQualityAssessor, estimate_pose

__all__ = ["FaceQualityAssessor", "estimate_pose"]
