"""/healthz and /metrics (no authentication; neither carries personal data), and
/v1/metrics (admin or supervisor: adds match decisions per lane)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from bordermatch.api.auth import Admin
from bordermatch.api.deps import Service
from bordermatch.api.problems import problem
from bordermatch.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
def healthz(svc: Service):
    try:
        with svc.sessions() as s:
            s.execute(text("SELECT 1"))
    except Exception:
        return problem(503, "database_unavailable", "the database does not answer")
    return Health(status="ok", database="ok")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return request.app.state.metrics.render()


@router.get("/v1/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def private_metrics(request: Request, who: Admin) -> Response:
    """Everything on /metrics plus match decisions by lane, row and outcome (Prometheus text;
    scrape with the key as a bearer token)."""
    return request.app.state.metrics.render(private=True)
