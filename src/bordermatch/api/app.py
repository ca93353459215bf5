"""``create_app(settings)``: the FastAPI service. Nothing is built at import.

create_app opens the database (and runs migrations unless told not to), opens the encrypted
blob store, and wires routes, auth, problem responses and metrics. The face engine loads on
the first request that needs it (or is injected, e.g. by tests that share one). The purge
job runs on a background thread for the app's lifetime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from bordermatch.store.clock import Clock, SystemClock
from bordermatch.store.config import ServiceSettings

if TYPE_CHECKING:
    from bordermatch.match.engine import FaceEngine

log = logging.getLogger(__name__)


def create_app(settings: ServiceSettings, *, clock: Clock | None = None,
               engine_factory: Callable[[], FaceEngine] | None = None, blobs=None) -> FastAPI:
    from bordermatch import __version__
    from bordermatch.api import metrics as metrics_mod
    from bordermatch.api import problems
    from bordermatch.api.forms import FormInspector
    from bordermatch.api.jsonguard import JsonBodyGuard
    from bordermatch.api.limits import BodyLimit
    from bordermatch.api.routes import (
        audit,
        encounters,
        fingerprints,
        galleries,
        gate,
        health,
        review,
        travelers,
        verify,
    )
    from bordermatch.service import BorderService, check_index_backend
    from bordermatch.service.thresholds import build_thresholds
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.db import make_engine, sessionmaker_for, upgrade
    from bordermatch.store.retention import PurgeScheduler

    # Fail at start-up, not on the first request, if an operating point is not calibrated
    # or the index backend is unknown (a deployment error, not a client's).
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
        def engine_factory():
            from bordermatch.match.engine import FaceEngine

            return FaceEngine.from_settings(settings)

    service = BorderService(settings, sessionmaker_for(db), blobs, clock or SystemClock(),
                            engine_factory, thresholds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from bordermatch.api import logs

        redactor = logs.attach(app)
        # The watchlist is searched from memory: decrypt and index it before the first search.
        service.watchlist.load_if_enrolled()
        scheduler = None
        if settings.run_purge_scheduler:
            scheduler = PurgeScheduler(service.purge, settings.purge_interval_s)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            logs.detach(redactor)
            db.dispose()

    app = FastAPI(title="bordermatch", version=__version__, lifespan=lifespan,
                  description="Biometric entry/exit verification service. Authenticate with "
                              "an API key (`X-API-Key` or `Authorization: Bearer`).")
    app.state.service = service
    app.state.metrics = metrics_mod.Metrics(settings.metrics_lanes)
    problems.install(app)
    metrics_mod.install(app, app.state.metrics)
    # Outermost last: the byte limit sees every body first, then the JSON caps, then the
    # form inspector (which only watches the bytes go by).
    app.add_middleware(FormInspector)
    app.add_middleware(JsonBodyGuard, max_depth=settings.max_json_depth,
                       max_bytes=settings.max_json_bytes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    for module in (health, galleries, encounters, verify, travelers, review, audit, gate,
                   fingerprints):
        app.include_router(module.router)
    from bordermatch.web import pages

    pages.install(app)  # officer review pages under /review
    return app
