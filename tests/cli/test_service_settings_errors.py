"""A bad BORDERMATCH_* variable is one line and exit 2 for the service commands, not a
traceback (issue 12: found while writing docs/deploy.md, an env file that lost its quotes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bordermatch.cli import app


@pytest.mark.parametrize(("env", "expected"), [
    ({"BORDERMATCH_METRICS_LANES": "[lane-1,lane-2]"}, 'field "metrics_lanes"'),
    ({"BORDERMATCH_PURGE_INTERVAL_S": "-1"}, "BORDERMATCH_PURGE_INTERVAL_S: Input should be"),
    ({"BORDERMATCH_CITIZEN_RETENTION_HOURS": "13"}, "exceeds the 12.0 h policy ceiling"),
])
def test_a_bad_setting_is_one_line(tmp_path: Path, env: dict[str, str], expected: str):
    url = f"sqlite:///{tmp_path / 'bm.db'}"
    r = CliRunner().invoke(app, ["db", "upgrade", "--database-url", url], env=env)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error (config_error): "), r.output
    assert expected in lines[0]
    assert not (tmp_path / "bm.db").exists()  # nothing was created
