"""Web page fixtures: the API's app, client, keys and gallery on each database."""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401  (fixtures)
    app,
    client,
    face_engine,
    gallery,
    photos,
    settings,
    tokens,
)
from tests.store.service_fixtures import *  # noqa: F403  (shared fixtures)
