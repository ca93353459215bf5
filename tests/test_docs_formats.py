"""Every example in docs/formats.md goes through the reader the page names (issue 12).

A format change that leaves the page behind fails here, and so does an example that the
code would refuse.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "formats.md"


def _examples() -> dict[str, list[str]]:
    """Section title -> the fenced blocks in it, in order."""
    out: dict[str, list[str]] = {}
    title = ""
    for part in re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        out[title] = re.findall(r"^```[a-z]*\n(.*?)^```", body, flags=re.M | re.S)
    return out


EXAMPLES = _examples()


def _block(prefix: str, index: int = -1) -> str:
    matches = [blocks for title, blocks in EXAMPLES.items() if title.startswith(prefix)]
    assert matches and matches[0], f"no example under a heading starting {prefix!r}"
    return matches[0][index]


def test_the_manifest_example_is_read_as_documented():
    from bordermatch.gallery.manifest import parse_manifest

    m = parse_manifest(_block("Gallery directory"))
    assert m.report == () and m.n_rows == 3
    people = m.travellers()
    assert [len(rows) for rows in people.values()] == [2, 1]  # two documents of T-0001
    assert people["T-0002"][0].citizen is True and people["T-0001"][0].photo.startswith("photos/")


def test_the_event_example_parses_with_its_document_read():
    from bordermatch.lane.events import frame_ref, parse_event

    blocks = EXAMPLES[next(t for t in EXAMPLES if t.startswith("Lane events directory"))]
    meta = json.loads(blocks[1])
    names = [n.split("/frames/", 1)[1] for n in blocks[2].split() if "/frames/" in n]
    event = parse_event(meta, [frame_ref(n) for n in names])
    assert event.event_id == "veh00025" and event.cameras[0].view == "windshield"
    assert event.documents[0].source == "rfid" and event.documents[0].key == ("C9000001", "USA")
    assert [f.t_ms for f in event.frames] == [0, 120]


def test_the_truth_example_reads(tmp_path: Path):
    from bordermatch.lane.events import read_truth

    (tmp_path / "truth.json").write_text(_block("truth.json"))
    occupants = read_truth(tmp_path)
    assert [o.traveler_id for o in occupants] == ["T014763", None]
    assert occupants[0].row == 1 and occupants[0].document_read is True


def test_the_results_example_reads_as_one_json_line(tmp_path: Path):
    from bordermatch.lane.events import read_results

    row = json.loads(_block("Lane results"))
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [back] = list(read_results(path))
    occ = back["occupants"][0]
    assert set(occ) >= {"track_id", "traveler_id", "score", "decision", "quality"}
    assert occ["decision"] in ("match", "no_match", "review", "no_capture")
    assert set(back["timings_ms"]) == {"decode", "detection", "quality", "tracking",
                                       "embedding", "search"}


def test_the_thresholds_example_loads_and_matches_the_shipped_file(tmp_path: Path):
    from bordermatch.lane.operating_points import default_thresholds_path, load_operating_point

    path = tmp_path / "open_set_sface.json"
    path.write_text(_block("Thresholds file"))
    point = load_operating_point("sface", path)
    shipped = load_operating_point("sface", default_thresholds_path("sface"))
    assert (point.rate, point.target, point.match, point.review, point.samples) == \
        (shipped.rate, shipped.target, shipped.match, shipped.review, shipped.samples)


def test_the_calibration_example_is_the_bundled_sface_entry():
    from bordermatch.match.fusion import load_calibration, matcher_from_spec

    example = json.loads(_block("calibration.json"))["matchers"]["sface"]
    bundled = load_calibration()["matchers"]["sface"]
    assert example["primary"] == bundled["primary"]
    assert example["thresholds"] == bundled["thresholds"]
    assert matcher_from_spec("sface", example).threshold(1e-4) == pytest.approx(2.2410358)


def test_the_layout_example_loads(tmp_path: Path):
    from bordermatch.lane.seats import LaneLayout, load_layout

    path = tmp_path / "layout.json"
    path.write_text(_block("Layout file"))
    layout = load_layout(path)
    assert layout.front_seats["r1-left"] == (0.34, 0.66) and layout.gate == 0.1
    assert layout.side_row_x == LaneLayout().side_row_x  # unnamed keys keep the default


def test_the_pairs_example_is_one_pair(tmp_path: Path):
    from bordermatch.match.pairs import read_pairs

    path = tmp_path / "pairs.tsv"
    path.write_text(_block("Pairs file"))
    [pair] = read_pairs(path)
    assert pair is not None and all(p.endswith(".jpg") for p in pair)
