"""Prometheus metrics of one worker process, on its own port (one exporter per worker:
Prometheus scrapes each worker as a target, so nothing is shared between processes).

``bordermatch_ingest_messages_total{outcome}``  done | dead | retry
``bordermatch_ingest_seconds``                  handling time per message
``bordermatch_capture_failures_total{lane}``    as on the API's public /metrics

Per-lane decision counts stay off this endpoint, as they stay off the API's public one.
"""

from __future__ import annotations

from bordermatch.api.metrics import Metrics


class WorkerMetrics:
    def __init__(self, lanes: list[str]) -> None:
        from prometheus_client import Counter, Histogram

        self.base = Metrics(lanes)
        self.messages = Counter("bordermatch_ingest_messages_total", "Messages handled",
                                ["outcome"], registry=self.base.registry)
        self.seconds = Histogram("bordermatch_ingest_seconds", "Time to handle one message",
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
                                 registry=self.base.registry)

    def record(self, outcome, seconds: float) -> None:
        self.messages.labels(outcome=outcome.status).inc()
        self.seconds.observe(seconds)
        if outcome.result is not None and not outcome.result.replayed:
            self.base.record_occupants(outcome.result.encounter.lane, outcome.result.occupants)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        from prometheus_client import start_http_server

        start_http_server(port, addr=host, registry=self.base.registry)
