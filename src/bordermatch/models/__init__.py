"""Model files: where they come from, how they are verified, and how they are loaded."""

from bordermatch.models.manifest import ModelFile
from bordermatch.models.verify import locate, read_verified

__all__ = ["ModelFile", "locate", "read_verified"]
