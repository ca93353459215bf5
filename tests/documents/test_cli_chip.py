"""``bordermatch document trust add`` and ``document chip DIR`` on a generated chip."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from tests.documents.pki import build_sod, chip_files, make_pki
from typer.testing import CliRunner

from bordermatch.cli import app
from bordermatch.documents import lds

runner = CliRunner()


def _write_chip(folder: Path, dgs: dict[int, bytes], sod: bytes) -> Path:
    folder.mkdir()
    (folder / "EF.COM").write_bytes(lds.build_ef_com(tuple(sorted(dgs))))
    (folder / "EF.SOD").write_bytes(sod)
    for n, data in dgs.items():
        (folder / f"DG{n}.bin").write_bytes(data)
    (folder / "README.txt").write_text("not an LDS file: ignored")
    return folder


def test_trust_add_then_read_a_valid_chip(tmp_path: Path) -> None:
    pki = make_pki("ecdsa")
    dgs = chip_files()
    chip = _write_chip(tmp_path / "chip", dgs, build_sod(dgs, pki))
    pem = tmp_path / "csca.pem"
    pem.write_bytes(pki.csca.public_bytes(serialization.Encoding.PEM))
    store = tmp_path / "trust"
    added = runner.invoke(app, ["document", "trust", "add", str(pem), "--store", str(store)])
    assert added.exit_code == 0 and "added CN=CSCA Utopia" in added.stdout
    face = tmp_path / "face.jpg"
    out = runner.invoke(app, ["document", "chip", str(chip), "--trust", str(store),
                              "--face-out", str(face), "--json"])
    assert out.exit_code == 0, out.output
    obj = json.loads(out.stdout)
    assert obj["valid"] is True and obj["passive_authentication"]["status"] == "valid"
    assert obj["mrz"]["fields"]["document_number"] == "L898902C3"
    assert obj["com"]["data_groups"] == [1, 2] and obj["faces"][0]["width"] == 96
    assert face.read_bytes() == lds.parse_dg2(dgs[2])[0].data

    text = runner.invoke(app, ["document", "chip", str(chip), "--trust", str(store)])
    assert text.exit_code == 0 and "passive authentication: valid" in text.stdout


def test_tampered_and_untrusted_chips_exit_1(tmp_path: Path) -> None:
    pki = make_pki("rsa")
    dgs = chip_files()
    sod = build_sod(dgs, pki)
    altered = dgs | {1: lds.build_dg1(("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                                       "L898902C36UTO7408122M1204159ZE184226B<<<<<10"))}
    chip = _write_chip(tmp_path / "chip", altered, sod)
    store = tmp_path / "trust"
    store.mkdir()
    (store / "csca.der").write_bytes(pki.csca.public_bytes(serialization.Encoding.DER))
    out = runner.invoke(app, ["document", "chip", str(chip), "--trust", str(store), "--json"])
    assert out.exit_code == 1
    obj = json.loads(out.stdout)
    assert obj["passive_authentication"]["status"] == "tampered"
    assert obj["passive_authentication"]["data_groups"] == {"DG1": False, "DG2": True}
    assert obj["mrz"]["valid"] is True  # F -> M keeps every MRZ check: only the SOD sees it

    genuine = _write_chip(tmp_path / "genuine", dgs, sod)
    out = runner.invoke(app, ["document", "chip", str(genuine), "--json"])
    assert out.exit_code == 1
    assert json.loads(out.stdout)["passive_authentication"]["status"] == "untrusted"


def test_trust_add_refuses_a_document_signer(tmp_path: Path) -> None:
    pki = make_pki("rsa")
    der = tmp_path / "ds.der"
    der.write_bytes(pki.ds.public_bytes(serialization.Encoding.DER))
    out = runner.invoke(app, ["document", "trust", "add", str(der), "--store",
                              str(tmp_path / "t"), "--json"])
    assert out.exit_code == 2 and json.loads(out.stdout)["error"] == "trust_store"


def test_chip_without_dg1_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "chip"
    folder.mkdir()
    (folder / "DG2.bin").write_bytes(chip_files()[2])
    out = runner.invoke(app, ["document", "chip", str(folder), "--json"])
    assert out.exit_code == 2 and json.loads(out.stdout)["error"] == "bad_lds"
