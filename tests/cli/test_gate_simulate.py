"""``bordermatch gate simulate`` against a live uvicorn server on SQLite (issue 12)."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bordermatch.cli import app as cli_app
from bordermatch.eval.gate_sim import (
    Answer,
    Passenger,
    choose_passengers,
    gate_view,
    lfw_people,
    manifest_rows,
    summarise,
)


@pytest.fixture
def live_service(tmp_path: Path):
    """A real server (the app `bordermatch serve` runs) on a free loopback port, and keys."""
    import uvicorn

    from bordermatch.api.app import create_app
    from bordermatch.store import keys
    from bordermatch.store.blobs import KeyRing
    from bordermatch.store.clock import SystemClock
    from bordermatch.store.config import ServiceSettings

    settings = ServiceSettings(
        database_url=f"sqlite:///{tmp_path / 'bm.db'}", blob_dir=tmp_path / "blobs",
        blob_keys=KeyRing.encode_entry("t", KeyRing.generate_key()),
        run_purge_scheduler=False)
    app = create_app(settings)
    service = app.state.service
    tokens = {}
    with service.sessions.begin() as s:
        _, tokens["admin"] = keys.create_key(s, SystemClock(), "admin", "sim admin")
        _, tokens["partner"] = keys.create_key(s, SystemClock(), "airline_partner",
                                               "sim partner", ["gate:B12"])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", tokens, service
    finally:
        server.should_exit = True
        thread.join(15)


def _run(*args: str):
    return CliRunner().invoke(cli_app, ["gate", "simulate", *args])


def test_six_passengers_board_through_a_live_service(live_service, lfw_dir: Path):
    from sqlalchemy import select

    from bordermatch.store import tables

    base, tokens, service = live_service
    r = _run("--service", base, "--admin-key", tokens["admin"], "--partner-key",
             tokens["partner"], "--passengers", "6", "--seed", "3", "--lfw-dir",
             str(lfw_dir), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["mated"] + out["non_mated"] + out["failed_to_enrol"] == 6
    assert out["non_mated"] == 3
    assert sum(out["enrol_errors"].values()) == out["failed_to_enrol"]
    assert 0 <= out["missed"] <= out["mated"] and 0 <= out["false_matches"] <= 3
    assert out["fnir"] == out["missed"] / out["mated"]
    assert out["fpir_resolvable"] is False  # 3 non-mated passengers cannot show 0.003
    assert 0 < out["ms_p50"] <= out["ms_p95"]
    # What the simulator reported is what the service recorded: one boarding each,
    # a match exactly where the partner was told "match", and the gallery closed.
    with service.sessions() as s:
        gallery = s.get(tables.Gallery, out["gallery_id"])
        assert gallery is not None and gallery.status == "closed"
        encounters = s.scalars(select(tables.Encounter).where(
            tables.Encounter.gallery_id == out["gallery_id"])).all()
        assert len(encounters) == out["passengers"]
        assert {e.kind for e in encounters} == {"board"}
        matched = sum(e.event_ref is not None for e in encounters)
    assert matched == out["mated"] - out["missed"] + out["false_matches"]


def test_a_partner_key_for_another_gate_is_one_line_and_exit_6(live_service, lfw_dir):
    base, tokens, _ = live_service
    r = _run("--service", base, "--admin-key", tokens["admin"], "--partner-key",
             tokens["partner"], "--passengers", "2", "--gate", "C7", "--lfw-dir",
             str(lfw_dir))
    assert r.exit_code == 6
    assert "lane_not_bound" in r.output and len(r.output.strip().splitlines()) == 1


def test_no_service_is_one_line_and_exit_6(lfw_dir: Path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    r = _run("--service", f"http://127.0.0.1:{port}", "--admin-key", "x", "--partner-key",
             "y", "--passengers", "2", "--lfw-dir", str(lfw_dir), "--json")
    assert r.exit_code == 6
    assert json.loads(r.stdout)["error"] == "service_unreachable"


def test_missing_lfw_is_an_input_error(tmp_path: Path):
    r = _run("--service", "http://127.0.0.1:9", "--admin-key", "x", "--partner-key", "y",
             "--passengers", "2", "--lfw-dir", str(tmp_path))
    assert r.exit_code == 2 and "no LFW images" in r.output


def test_passengers_are_disjoint_and_seeded(lfw_dir: Path):
    people = lfw_people(lfw_dir)
    a = choose_passengers(people, 40, 0.25, seed=5)
    assert a == choose_passengers(people, 40, 0.25, seed=5)
    assert a != choose_passengers(people, 40, 0.25, seed=6)
    mated = [p for p in a if p.mated]
    assert len(mated) == 30 and len(a) == 40
    assert all(p.reference != p.gate_photo for p in mated)
    assert not {p.name for p in mated} & {p.name for p in a if not p.mated}
    rows = manifest_rows(a)
    assert [r["traveler_id"] for r in rows] == [p.traveler_id for p in mated]
    assert all(r["photo"] == f"photos/{p.reference.name}" for r, p in zip(rows, mated,
                                                                          strict=True))


def test_gate_view_crops_the_centre(lfw_dir: Path):
    import io

    from PIL import Image

    path = next((lfw_dir / "lfw-deepfunneled").glob("*/*.jpg"))
    assert gate_view(path, 1.0) == path.read_bytes()
    with Image.open(io.BytesIO(gate_view(path, 0.6))) as img:
        assert img.size == (150, 150)  # LFW photos are 250 x 250


def test_summary_counts_refusals_as_no_match():
    mated = Passenger("a", "A", Path("g"), Path("r"))
    other = Passenger("b", "B", Path("g2"), None)
    answers = [Answer(mated, True, 0.1), Answer(mated, False, 0.3, "too_many_faces"),
               Answer(other, True, 0.2), Answer(other, False, 0.4)]
    s = summarise(answers, failed_to_enrol=1, target_fpir=0.003)
    assert (s["mated"], s["missed"], s["fnir"]) == (2, 1, 0.5)
    assert (s["non_mated"], s["false_matches"], s["fpir"]) == (2, 1, 0.5)
    assert s["within_target_fpir"] is False and s["refused_mated"] == 1
    assert s["errors"] == {"too_many_faces": 1} and s["failed_to_enrol"] == 1
    assert s["ms_p50"] == pytest.approx(250.0)


def test_the_text_report_gives_counts_and_says_when_fpir_is_not_resolvable():
    from bordermatch.cli.gate import _text

    mated = Passenger("a", "A", Path("g"), Path("r"))
    other = Passenger("b", "B", Path("g2"), None)
    s = summarise([Answer(mated, True, 0.1), Answer(other, False, 0.2, "too_many_faces")],
                  failed_to_enrol=0, target_fpir=0.003)
    s.update(enrol_errors={}, gallery_id="g1", seed=1, gate="B12", frame=0.6, wall_s=1.0)
    text = _text(s)
    assert "FNIR 0/1 = 0.0000" in text and "FPIR 0/1 = 0.0000" in text
    assert "1 non-mated passengers cannot resolve it" in text
    assert "p50 150 ms" in text and "0 mated, 1 non-mated" in text
