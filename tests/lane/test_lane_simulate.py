"""The lane simulator: scenario sampling, and a rendered vehicle from public-domain photos."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from bordermatch.errors import ConfigError
from bordermatch.io.images import load_image
from bordermatch.lane.events import SEATS, read_event, read_truth
from bordermatch.lane.scenario import DIFFICULTIES, SimParams, params_for, sample_seats


def test_seats_always_have_a_driver_and_are_valid():
    rng = np.random.default_rng(0)
    counts = []
    for _ in range(300):
        seats = sample_seats(rng, SimParams())
        assert seats[0] == "r1-left" and len(set(seats)) == len(seats)
        assert set(seats) <= set(SEATS)
        counts.append(len(seats))
    assert min(counts) == 1 and max(counts) == 7


def test_difficulty_presets_are_ordered():
    easy, default, hard = (DIFFICULTIES[k] for k in ("easy", "default", "hard"))
    assert easy.noise_sigma[1] < default.noise_sigma[1] < hard.noise_sigma[1]
    assert easy.tint_transmission[0] > default.tint_transmission[0] > hard.tint_transmission[0]
    with pytest.raises(ConfigError):
        params_for("impossible")


@pytest.mark.slow
def test_simulated_vehicle_from_public_domain_photos(pd_faces, tmp_path):
    from bordermatch.gallery.manifest import read_manifest
    from bordermatch.lane.simulate import simulate

    params = replace(params_for("default"), occupant_weights=(1.0,), distractors=5,
                     duplicate_travelers=1)
    summary = simulate(pd_faces, tmp_path / "sim", vehicles=2, seed=3, params=params)
    assert summary["vehicles"] == 2 and summary["occupants"] == 2
    with open(tmp_path / "sim" / "gallery" / "manifest.csv") as fh:
        gallery = list(csv.DictReader(fh))
    # The simulator writes what the shared reader accepts; its one repeated row is reported.
    manifest = read_manifest(tmp_path / "sim" / "gallery")
    assert [e["reason"] for e in manifest.report] == ["duplicate_document"]
    assert len(manifest.rows) == len(gallery) - 1
    # Two occupants plus the only person left over, as a distractor.
    assert len(gallery) >= 2
    events = sorted((tmp_path / "sim" / "events").iterdir())
    mated = 0
    for folder in events:
        ev = read_event(folder)
        assert {c.id for c in ev.cameras} == {"front", "left", "right"}
        assert 9 <= len(ev.frames) <= 12
        assert load_image(ev.frames[0].path).shape == (720, 1280, 3)
        (occ,) = read_truth(folder)
        extra = json.loads((folder / "truth.json").read_text())["occupants"][0]
        if occ.traveler_id is not None:
            row = next(r for r in gallery if r["traveler_id"] == occ.traveler_id)
            gallery_bytes = (tmp_path / "sim" / "gallery" / row["photo"]).read_bytes()
            lane_bytes = (pd_faces / extra["person"] / extra["lane_photo"]).read_bytes()
            assert gallery_bytes != lane_bytes  # never the enrolled photo in the lane
            mated += 1
    assert mated >= 1
    with pytest.raises(ConfigError):
        simulate(pd_faces, tmp_path / "more", vehicles=5, seed=3, params=params)
