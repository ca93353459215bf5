"""API fixtures: an app per test on each database, one real face engine per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.api.api_helpers import DEVICE_LANES, ROLES, auth, lanes_for
from tests.store.service_fixtures import *  # noqa: F403  (shared fixtures)


@pytest.fixture(scope="session")
def face_engine():
    """The real YuNet + SFace engine, loaded once (the 1:1 matcher is SFace alone)."""
    from bordermatch.config import Settings
    from bordermatch.match.engine import FaceEngine

    return FaceEngine.from_settings(Settings(matcher="sface"))


@pytest.fixture
def settings(db_url: str, tmp_path: Path, blob_keys: str):
    from bordermatch.store.config import ServiceSettings

    return ServiceSettings(database_url=db_url, blob_dir=tmp_path / "blobs",
                           blob_keys=blob_keys, run_purge_scheduler=False, matcher="sface",
                           metrics_lanes=["gate-7"])  # the lane the flow tests count


@pytest.fixture
def app(settings, clock, blobs, request):
    from bordermatch.api.app import create_app

    def engine():
        return request.getfixturevalue("face_engine")

    return create_app(settings, clock=clock, engine_factory=engine, blobs=blobs)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def tokens(app, clock) -> dict[str, str]:
    """One API key per role, issued the way `bordermatch keys create` does."""
    from bordermatch.store import keys

    service = app.state.service
    out = {}
    with service.sessions.begin() as s:
        for role in ROLES:
            _, out[role] = keys.create_key(s, clock, role, f"test {role}", lanes_for(role))
    return out


@pytest.fixture
def photos(publicdomain: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in publicdomain.glob("*.jpg")}


@pytest.fixture
def gallery(client, tokens, clock) -> str:
    from datetime import timedelta

    now = clock.now()
    r = client.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "Flight BM123 departure", "kind": "flight",
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(), "lanes": list(DEVICE_LANES)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def make_core(settings, sessions, clock, face_engine, tmp_path):
    """A service core on this test's database with the given index backend ("milvus": a
    Milvus Lite collection in the test's folder)."""
    from bordermatch.service.core import ServiceCore

    made: list[ServiceCore] = []

    def make(backend: str, blobs, **update) -> ServiceCore:
        if backend == "milvus":
            pytest.importorskip("milvus_lite")
            update |= {"index_uri": str(tmp_path / "milvus.db")}
        core = ServiceCore(settings.model_copy(update={"index_backend": backend, **update}),
                           sessions, blobs, clock, lambda: face_engine)
        made.append(core)
        return core

    yield make
    for core in made:
        if core.shared_index is not None:
            core.shared_index.close()
