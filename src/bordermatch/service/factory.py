"""Build a :class:`BorderService` from settings: the one construction the HTTP app and the
queue workers share, so both run the same thresholds, index backend, blob keys and schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bordermatch.store.clock import Clock, SystemClock
from bordermatch.store.config import ServiceSettings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bordermatch.match.engine import FaceEngine
    from bordermatch.service import BorderService
    from bordermatch.store.blobs import BlobStore


def build_service(settings: ServiceSettings, *, clock: Clock | None = None,
                  engine_factory: Callable[[], FaceEngine] | None = None,
                  blobs: BlobStore | None = None) -> tuple[BorderService, Engine]:
    """The service and its database engine (the caller disposes of it).

    Fails at start-up, not on the first request, if an operating point is not calibrated or
    the index backend is unknown: a deployment error, not a client's."""
    from bordermatch.service import BorderService, check_index_backend
    from bordermatch.service.thresholds import build_thresholds
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.db import make_engine, sessionmaker_for, upgrade

    check_index_backend(settings.index_backend)
    thresholds = build_thresholds(settings)
    db = make_engine(settings.database_url)
    if settings.run_migrations:
        upgrade(db)
    if blobs is None:
        ring = (KeyRing.from_spec(settings.blob_keys.get_secret_value())
                if settings.blob_keys else KeyRing.from_env())
        blobs = BlobStore(settings.blob_dir, ring)
    if engine_factory is None:
        def engine_factory() -> FaceEngine:
            from bordermatch.match.engine import FaceEngine

            return FaceEngine.from_settings(settings)

    service = BorderService(settings, sessionmaker_for(db), blobs, clock or SystemClock(),
                            engine_factory, thresholds)
    return service, db
