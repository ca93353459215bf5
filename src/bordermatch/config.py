"""Runtime settings, read once (CLI start-up or ``create_app``) and passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Matcher = Literal["sface", "dlib", "fusion", "cascade"]


class ImageLimits(BaseSettings):
    """Guards applied before any pixel is decoded."""

    model_config = SettingsConfigDict(env_prefix="BORDERMATCH_")

    max_image_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    # 40 MP covers every camera at a port of entry; beyond that it is a decompression bomb.
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    # Decoding is the memory peak (a 16 MP PNG costs ~110 MB while it decodes), so the process
    # as a whole decodes at most this many images at once; a caller waits up to
    # decode_wait_s for a slot, then gets DecodeBusyError (the API answers 503).
    max_concurrent_decodes: int = Field(default=4, gt=0)
    decode_wait_s: float = Field(default=2.0, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BORDERMATCH_", env_nested_delimiter="__")

    detector: str = "yunet"
    # None keeps each detector's own calibrated default (YuNet 0.6, CenterFace 0.35): one
    # number cannot suit detectors whose scores live on different scales.
    detector_score: float | None = Field(default=None, ge=0.0, le=1.0)
    matcher: Matcher = "cascade"
    # Operating point for 1:1 decisions; thresholds come from the bundled calibration.
    target_fmr: float = Field(default=1e-4, gt=0.0, lt=1.0)
    model_pack: Path | None = None  # user-supplied insightface-format pack (see docs/models.md)
    limits: ImageLimits = Field(default_factory=ImageLimits)

    def detector_options(self) -> dict[str, float]:
        """Keyword arguments for ``registry.create("detector", ...)``."""
        return {} if self.detector_score is None else {"score_threshold": self.detector_score}
