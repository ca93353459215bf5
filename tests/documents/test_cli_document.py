"""``bordermatch document mrz``: fields, every check, JSON shape and exit codes."""

from __future__ import annotations

import json

from tests.documents.specimens import SPECIMENS
from typer.testing import CliRunner

from bordermatch.cli import app

runner = CliRunner()


def test_mrz_valid_text_and_json() -> None:
    lines = list(SPECIMENS["td3"][1])
    text = runner.invoke(app, ["document", "mrz", *lines])
    assert text.exit_code == 0, text.output
    assert "document_number: L898902C3" in text.stdout
    assert "[ok] composite check_digit" in text.stdout
    out = runner.invoke(app, ["document", "mrz", *lines, "--json"])
    assert out.exit_code == 0
    obj = json.loads(out.stdout)
    assert obj["valid"] is True and obj["type"] == "TD3" and obj["errors"] == []
    assert obj["fields"]["birth_date"] == "1974-08-12"


def test_mrz_invalid_names_the_field() -> None:
    line1, line2, line3 = SPECIMENS["td1"][1]
    bad = line2[:6] + "3" + line2[7:]  # birth date check digit
    out = runner.invoke(app, ["document", "mrz", line1, bad, line3, "--json"])
    assert out.exit_code == 1
    obj = json.loads(out.stdout)
    assert obj["valid"] is False and obj["type"] == "TD1"
    assert {"birth_date", "composite"} == {e["field"] for e in obj["errors"]}
    assert all(e["code"] == "check_digit" and e["detail"] for e in obj["errors"])
    text = runner.invoke(app, ["document", "mrz", line1, bad, line3])
    assert text.exit_code == 1 and "[FAIL] birth_date check_digit" in text.stdout


def test_mrz_wrong_layout_is_invalid_not_a_crash() -> None:
    out = runner.invoke(app, ["document", "mrz", "P<UTO", "L898", "--json"])
    assert out.exit_code == 1
    assert json.loads(out.stdout)["errors"][0]["field"] == "format"
