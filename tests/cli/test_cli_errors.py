"""Every command: an OS-level error or an unopenable database is one line and a stable exit
code (cli/_common.ErrorsGroup), the same in text and ``--json`` modes."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bordermatch.cli import app
from bordermatch.cli._common import EXIT_DB, EXIT_INPUT, EXIT_OS, ErrorsGroup

runner = CliRunner()
PG_URL = os.environ.get("BORDERMATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STORE_COMMANDS = [["keys", "list"], ["keys", "create", "--role", "officer", "--name", "x"],
                  ["keys", "revoke", "k-1"], ["audit", "verify"], ["db", "upgrade"], ["purge"],
                  ["serve", "--port", "1"]]


def _one_line(result) -> str:
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_an_oserror_in_any_command_is_one_line_exit_4_in_text_and_json():
    probe = typer.Typer(cls=ErrorsGroup)

    @probe.command("read")
    def read(as_json: bool = typer.Option(False, "--json")) -> None:
        open("/nonexistent-dir/x.txt").close()

    @probe.command("other")
    def other() -> None:
        pass

    text = runner.invoke(probe, ["read"])
    assert text.exit_code == EXIT_OS
    assert _one_line(text) == ("error (os_error): /nonexistent-dir/x.txt: "
                               "No such file or directory")
    as_json = runner.invoke(probe, ["read", "--json"])
    assert as_json.exit_code == EXIT_OS
    assert json.loads(_one_line(as_json)) == {"error": "os_error", "detail":
                                              "/nonexistent-dir/x.txt: No such file or directory"}


def test_lane_simulate_into_a_file_is_one_line_exit_4(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    (tmp_path / "faces").mkdir()
    result = runner.invoke(app, ["lane", "simulate", "--faces", str(tmp_path / "faces"), "--out",
                                 str(blocker / "sim"), "--vehicles", "1", "--seed", "1"])
    assert result.exit_code == EXIT_OS
    assert _one_line(result).startswith(f"error (os_error): {blocker}")


def test_lane_evaluate_out_onto_a_file_is_one_line(tmp_path):
    events = tmp_path / "events"
    from bordermatch.lane.events import write_event

    write_event(events / "e1", "e1", [("front", "windshield")])
    (events / "e1" / "truth.json").write_text(json.dumps(
        {"occupants": [{"traveler_id": "T1", "seat": "r1-left"}]}))
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"event_id": "e1", "occupants": [], "latency_ms": 1.0}))
    blocker = tmp_path / "report"
    blocker.write_text("x")
    result = runner.invoke(app, ["lane", "evaluate", "--events", str(events), "--results",
                                 str(results), "--out", str(blocker)])
    assert result.exit_code == EXIT_OS, result.output
    assert result.output.strip().splitlines()[-1].startswith(f"error (os_error): {blocker}")


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_sqlite_file_that_cannot_be_opened_is_exit_5(command, tmp_path):
    env = {"BORDERMATCH_BLOB_KEYS": _key(), "BORDERMATCH_BLOB_DIR": str(tmp_path / "b")}
    missing = runner.invoke(app, [*command, "--database-url",
                                  f"sqlite:///{tmp_path / 'no' / 'dir' / 'x.db'}"], env=env)
    assert missing.exit_code == EXIT_DB
    assert _one_line(missing) == ("error (database_unavailable): cannot open the database: "
                                  "unable to open database file")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    not_db = runner.invoke(app, [*command, "--database-url", f"sqlite:///{junk}"], env=env)
    assert not_db.exit_code == EXIT_DB and "file is not a database" in _one_line(not_db)


def test_a_database_url_of_an_unknown_dialect_is_exit_2():
    result = runner.invoke(app, ["keys", "list", "--database-url", "nosuchdialect://x/y"])
    assert result.exit_code == EXIT_INPUT
    assert _one_line(result).startswith("error (config_error): bad database URL")


@pytest.mark.postgres
@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_postgresql_database_that_does_not_exist_is_one_line_exit_5(command, missing_pg_db,
                                                                      tmp_path):
    env = {"BORDERMATCH_BLOB_KEYS": _key(), "BORDERMATCH_BLOB_DIR": str(tmp_path / "b")}
    result = runner.invoke(app, [*command, "--database-url", missing_pg_db], env=env)
    assert result.exit_code == EXIT_DB
    line = _one_line(result)
    assert line.startswith("error (database_unavailable): cannot open the database: ")
    assert "does not exist" in line


@pytest.fixture(scope="module")
def missing_pg_db() -> str:
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server: nothing to show
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__})")
    finally:
        admin.dispose()
    name = f"bm_absent_{secrets.token_hex(4)}"
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _key() -> str:
    result = runner.invoke(app, ["blobs", "keygen", "k1"])
    assert result.exit_code == 0
    return result.stdout.strip()


def test_exit_codes_are_the_documented_ones():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code, what in ((EXIT_INPUT, "bad input"), (EXIT_OS, "operating system"),
                       (EXIT_DB, "database")):
        assert f"| {code} |" in readme and what in readme
