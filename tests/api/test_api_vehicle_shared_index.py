"""A vehicle lane in a service on a shared index (a Milvus Lite collection) decides through
the index's shortlist and the gallery's cohort, never loading the whole gallery."""

from __future__ import annotations

import pytest
from tests.api.test_api_vehicle import read_in_a_large_gallery

pytest.importorskip("milvus_lite")


@pytest.fixture
def settings(settings, tmp_path):
    return settings.model_copy(update={"index_backend": "milvus",
                                       "index_uri": str(tmp_path / "milvus.db")})


def test_a_vehicle_is_decided_on_its_shortlist(client, tokens, gallery, photos, app, clock,
                                               monkeypatch):
    from bordermatch.service.galleries import ShortlistedLane

    pipeline = read_in_a_large_gallery(client, tokens, gallery, photos, app, clock,
                                       monkeypatch)
    assert isinstance(pipeline.gallery, ShortlistedLane)
    assert pipeline.document_norm == "snorm"
    assert not app.state.service.gallery(gallery).search_loaded
