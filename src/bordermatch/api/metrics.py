"""Prometheus metrics, two registries per app (so several apps in one process never clash).

Public (``/metrics``, no key):
``bordermatch_request_seconds``  request latency by method, route template and status
``bordermatch_capture_failures_total``  encounters or occupants with no usable face, by lane

With a key (``/v1/metrics``, admin or supervisor), in addition:
``bordermatch_decisions_total``  match decisions by lane, vehicle row and outcome

Every label is drawn from a closed set, because a label value is stored for the life of the
process: lanes come from clients (a form field, a field of event.json), so only the lanes in
``metrics_lanes`` keep their name and every other lane is ``other``; methods outside the
standard ones are ``other``; routes are templates, and an unmatched path is ``unmatched``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import FastAPI, Request, Response

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


class Metrics:
    def __init__(self, lanes: Iterable[str] = ()) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.lanes = frozenset(lanes)
        self.registry = CollectorRegistry()
        self.private = CollectorRegistry()
        self.latency = Histogram(
            "bordermatch_request_seconds", "HTTP request latency", ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry)
        self.decisions = Counter("bordermatch_decisions_total", "Match decisions",
                                 ["lane", "row", "decision"], registry=self.private)
        self.capture_failures = Counter("bordermatch_capture_failures_total",
                                        "Encounters or occupants without a usable face",
                                        ["lane"], registry=self.registry)

    def lane_label(self, lane: str) -> str:
        return lane if lane in self.lanes else OTHER

    def record_occupants(self, lane: str, occupants: Iterable) -> None:
        lane = self.lane_label(lane)
        n = 0
        for o in occupants:
            n += 1
            row = str(o.row) if o.row is not None else "na"
            self.decisions.labels(lane=lane, row=row, decision=o.decision).inc()
            if o.decision == "no_capture":
                self.capture_failures.labels(lane=lane).inc()
        if n == 0:
            self.capture_failures.labels(lane=lane).inc()

    def render(self, private: bool = False) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        body = generate_latest(self.registry)
        if private:
            body += generate_latest(self.private)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


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
            method = request.method if request.method in _METHODS else OTHER
            metrics.latency.labels(method, path, str(status)).observe(
                time.perf_counter() - start)
