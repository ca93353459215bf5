"""Prometheus metrics, one registry per app (so several apps in one process never clash).

``bordermatch_request_seconds``  request latency by method, route template and status
``bordermatch_decisions_total``  match decisions by lane, vehicle row and outcome
``bordermatch_capture_failures_total``  encounters or occupants with no usable face, by lane
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import FastAPI, Request, Response


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "bordermatch_request_seconds", "HTTP request latency", ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry)
        self.decisions = Counter("bordermatch_decisions_total", "Match decisions",
                                 ["lane", "row", "decision"], registry=self.registry)
        self.capture_failures = Counter("bordermatch_capture_failures_total",
                                        "Encounters or occupants without a usable face",
                                        ["lane"], registry=self.registry)

    def record_occupants(self, lane: str, occupants: Iterable) -> None:
        n = 0
        for o in occupants:
            n += 1
            row = str(o.row) if o.row is not None else "na"
            self.decisions.labels(lane=lane, row=row, decision=o.decision).inc()
            if o.decision == "no_capture":
                self.capture_failures.labels(lane=lane).inc()
        if n == 0:
            self.capture_failures.labels(lane=lane).inc()

    def render(self) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, metrics: Metrics) -> None:
    @app.middleware("http")
    async def _time(request: Request, call_next):
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.latency.labels(request.method, path, str(status)).observe(
                time.perf_counter() - start)
