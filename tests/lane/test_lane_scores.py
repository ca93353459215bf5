"""Lane scores files (lane.scores): what `batch lane-run --scores` writes per chunk and pools."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch.errors import ConfigError
from bordermatch.lane.scores import LaneScores, pool
from bordermatch.lane.verification import MatedComparison, VerificationData


def _scores(offset: float, norm: str | None = "snorm", events: int = 2) -> LaneScores:
    searches = {"max_score": {"nonmated": [offset, offset + 0.5], "mated": [offset + 3.0],
                              "rank1": [True]}}
    mated = [MatedComparison(f"veh{offset:g}", "r1-left", "day", offset + 4.0,
                             {"windshield": offset + 4.5}),
             MatedComparison(f"veh{offset:g}b", "r2-right", "night", None, {})]
    nonmated = [np.asarray([offset - 1.0, offset - 2.0], np.float32)]
    return LaneScores(searches, VerificationData(mated, nonmated),
                      {"model": "sface", "normalisation": norm, "events": events})


def test_a_scores_file_reads_back_what_was_written(tmp_path):
    path = tmp_path / "s.npz"
    path.write_bytes(_scores(1.0).to_bytes())
    back = LaneScores.read(path)
    assert back.searches == _scores(1.0).searches
    assert back.verification.mated == _scores(1.0).verification.mated
    assert back.verification.nonmated_scores().tolist() == [0.0, -1.0]
    assert back.meta == {"model": "sface", "normalisation": "snorm", "events": 2}


def test_pooled_scores_keep_the_parts_in_order():
    pooled = pool([_scores(1.0), _scores(10.0, events=3)], "test")
    assert pooled.searches["max_score"]["nonmated"] == [1.0, 1.5, 10.0, 10.5]
    assert [m.event_id for m in pooled.verification.mated] == ["veh1", "veh1b", "veh10",
                                                               "veh10b"]
    assert pooled.verification.nonmated_scores().tolist() == [0.0, -1.0, 9.0, 8.0]
    assert pooled.meta["events"] == 5


def test_scores_on_two_scales_are_not_pooled():
    with pytest.raises(ConfigError, match="normalisation"):
        pool([_scores(1.0), _scores(2.0, norm=None)], "test")
    with pytest.raises(ConfigError, match="no scores"):
        pool([], "test")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", None])
def test_a_file_that_is_no_scores_file_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, vectors=np.zeros(3))  # an npz, of something else
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="scores file"):
        LaneScores.read(path)
    with pytest.raises(ConfigError, match="is a directory"):
        LaneScores.read(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        LaneScores.read(tmp_path / "missing.npz")
