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

from bordermatch.store.clock import Clock
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
        documents,
        encounters,
        fingerprints,
        galleries,
        gate,
        health,
        review,
        travelers,
        verify,
    )
    from bordermatch.service.factory import build_service
    from bordermatch.store.retention import PurgeScheduler

    service, db = build_service(settings, clock=clock, engine_factory=engine_factory,
                                blobs=blobs)

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
    for module in (health, galleries, encounters, verify, documents, travelers, review, audit,
                   gate, fingerprints):
        app.include_router(module.router)
    from bordermatch.web import ops as ops_pages
    from bordermatch.web import pages

    pages.install(app)  # officer review pages under /review
    ops_pages.install(app)  # lane monitor, reports, galleries (after pages: same sessions)
    return app
