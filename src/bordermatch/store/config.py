"""Service settings: database, blob store, retention, upload limits, scheduling.

They extend the engine's :class:`bordermatch.config.Settings`, so one object configures the
whole service. Built once (``bordermatch serve`` or a test) and passed to ``create_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from bordermatch.config import Settings
from bordermatch.errors import ConfigError

# The policy ceiling for citizens' photos and templates: configurable downwards, never up.
CITIZEN_RETENTION_CEILING_HOURS = 12.0


class ServiceSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="BORDERMATCH_", env_nested_delimiter="__")

    database_url: str = "sqlite:///bordermatch.db"
    blob_dir: Path = Path("blobs")
    # "kid:base64key,..." (first is active); None reads BORDERMATCH_BLOB_KEYS. docs/keys.md.
    blob_keys: SecretStr | None = None
    index_backend: str = "flat"  # registry name of the 1:N index (flat | faiss | milvus)
    # A shared index (milvus, docs/scale.md): a Milvus server, such as `bordermatch index
    # serve` (http://127.0.0.1:19530), or a Milvus Lite path (one process only).
    index_uri: str | None = None
    index_token: SecretStr | None = None
    index_type: str = "AUTOINDEX"  # Milvus index type of new collections
    # References each face of a gate photo takes from the index before they are re-scored
    # exactly and decided (service.galleries); at most Milvus's search limit.
    search_candidates: int = Field(default=50, gt=0, le=4096)
    # ... and each shot of a vehicle (a track has up to 16 shots, so the union over them
    # is wide: docs/benchmarks.md, "Vehicle lanes through the index").
    vehicle_search_candidates: int = Field(default=10, gt=0, le=4096)
    citizen_retention_hours: float = Field(default=CITIZEN_RETENTION_CEILING_HOURS, gt=0)
    noncitizen_retention_hours: float = Field(default=14 * 24, gt=0)
    purge_interval_s: float = Field(default=300.0, gt=0)  # in-process purge schedule
    run_purge_scheduler: bool = True
    # A pending blob older than this belongs to a request that died; the sweep removes it.
    orphan_grace_s: float = Field(default=600.0, gt=0)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_request_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_manifest_rows: int = Field(default=5000, gt=0)
    # Pixel budgets per route, checked from the image header before any decode (the engine's
    # limits.max_image_pixels, 40 MP, stays the ceiling for everything). Document photos and
    # their scans are the largest legitimate inputs; gate and 1:1 cameras are a few MP; lane
    # frames are video stills (4000x3000 covers DCI 4K).
    enrol_max_pixels: int = Field(default=24_000_000, gt=0)
    gate_max_pixels: int = Field(default=16_000_000, gt=0)
    verify_max_pixels: int = Field(default=16_000_000, gt=0)
    frame_max_pixels: int = Field(default=12_000_000, gt=0)
    # JSON documents (request bodies and the vehicle `event` field): nesting and size caps.
    max_json_depth: int = Field(default=32, gt=0)
    max_json_bytes: int = Field(default=1024 * 1024, gt=0)
    max_event_bytes: int = Field(default=100_000, gt=0)
    # Lanes named in metrics; any other lane is counted as "other" (labels come from clients).
    metrics_lanes: list[str] = Field(default_factory=list)
    # Failed authentication, per client address (docs/service.md, "Failed authentication").
    auth_failure_limit: int = Field(default=20, gt=0)
    auth_failure_window_s: float = Field(default=300.0, gt=0)
    auth_lockout_s: float = Field(default=900.0, gt=0)
    # The 1:N operating point of gates and vehicle lanes (match and review thresholds for
    # a target FPIR, from `bordermatch lane calibrate`); None: the bundled one of the
    # search recognizer. Its absence is a start-up error, never a silent fallback.
    search_operating_point: Path | None = None
    # Faces one photo or vehicle may hold before it is refused (422 too_many_faces): a gate
    # photo shows one traveller and a few behind; a vehicle holds at most nine people.
    # A boarding photo must show exactly one face.
    max_gate_faces: int = Field(default=8, gt=0)
    max_vehicle_occupants: int = Field(default=12, gt=0)
    # Documents read in a lane are verified 1:few at this 1:1 FMR (docs/lane.md).
    document_fmr: float = Field(default=1e-3, gt=0.0, lt=1.0)
    # Enrolment flags another identity at least this similar (a 1:1 FMR from the bundled
    # calibration); None: the strictest calibrated threshold.
    alias_fmr: float | None = Field(default=None, gt=0.0, lt=1.0)
    # Booths and kiosks (POST /v1/documents/verify): the CSCA trust store folder that
    # `bordermatch document trust add --store DIR` writes (BORDERMATCH_TRUST_DIR, as for the
    # CLI); None trusts nothing, so every chip reads as untrusted. A chip file (EF.COM,
    # DG1, DG2, EF.SOD) over max_lds_bytes is refused (413 lds_too_large): a chip holds tens
    # of kilobytes.
    trust_dir: Path | None = None
    max_lds_bytes: int = Field(default=1024 * 1024, gt=0)
    # Handheld fingerprints (docs/service_fingerprints.md): a capture whose NFIQ 2 score
    # is below this asks for a recapture (the watchlist takes none below it either); the
    # watchlist's fused threshold is set for this FPIR of a search; prints are 500 ppi
    # and a finger is small, so a few MP is plenty.
    fingerprint_min_nfiq2: int = Field(default=30, ge=0, le=100)
    fingerprint_fpir: float = Field(default=1e-3, gt=0.0, lt=1.0)
    fingerprint_max_pixels: int = Field(default=4_000_000, gt=0)
    run_migrations: bool = True
    # Durable ingest (docs/scale.md): devices publish encounters to RabbitMQ and
    # `bordermatch worker` processes commit them. A message that fails this many times goes
    # to the dead-letter queue `<ingest_queue>.dead` with its reason.
    # "inline": the HTTP routes do the face work in the request; "broker": they publish to
    # the ingest queue and relay the worker's answer (src/bordermatch/api/forward.py).
    ingest: Literal["inline", "broker"] = "inline"
    ingest_reply_timeout_s: float = Field(default=10.0, gt=0, le=120)
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    ingest_queue: str = Field(default="bordermatch.encounters", min_length=1, max_length=200)
    ingest_max_deliveries: int = Field(default=5, ge=1, le=100)
    # A failed try waits backoff * 2^(try - 1) seconds (at most 30) before it is requeued.
    ingest_retry_backoff_s: float = Field(default=1.0, ge=0.0, le=30.0)

    @model_validator(mode="after")
    def _retention_within_policy(self) -> ServiceSettings:
        if self.citizen_retention_hours > CITIZEN_RETENTION_CEILING_HOURS:
            raise ConfigError(
                f"citizen_retention_hours={self.citizen_retention_hours} exceeds the "
                f"{CITIZEN_RETENTION_CEILING_HOURS} h policy ceiling"
            )
        return self
