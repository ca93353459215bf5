"""Alias alerts still hold a gate match for an officer when the review band is switched off."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.api.api_helpers import auth


@pytest.fixture
def settings(db_url: str, tmp_path: Path, blob_keys: str):
    from bordermatch.store.config import ServiceSettings

    # review_fmr == target_fmr: no review band (review threshold None).
    return ServiceSettings(database_url=db_url, blob_dir=tmp_path / "blobs",
                           blob_keys=blob_keys, run_purge_scheduler=False, matcher="sface",
                           target_fmr=1e-4, review_fmr=1e-4)


def test_gate_match_to_an_open_alias_is_review_without_a_review_band(client, tokens, gallery,
                                                                     photos):
    for tid, photo in (("T-1", "obama"), ("T-3", "obama2")):
        r = client.post(
            f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
            data={"traveler_id": tid, "given_names": "A", "surname": "B", "document_type": "P",
                  "document_number": tid, "nationality": "USA", "citizen": "true"},
            files={"photo": ("p.jpg", photos[photo], "image/jpeg")})
        assert r.status_code == 201, r.text
    assert len(r.json()["alias_alerts"]) == 1
    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]),
                    data={"gallery_id": gallery, "lane": "gate-1", "direction": "entry"},
                    files={"photo": ("p.jpg", photos["obama"], "image/jpeg")})
    assert r.status_code == 201, r.text
    assert [o["decision"] for o in r.json()["occupants"]] == ["review"]
