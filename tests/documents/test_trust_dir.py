"""The service's trust store folder: what `document trust add` writes, reloaded on change."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from tests.documents.pki import make_pki

from bordermatch.documents.trust import TrustDirectory, load_trust_dir
from bordermatch.errors import ConfigError, TrustStoreError


def test_a_csca_added_while_running_is_trusted_without_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "trust"
    folder.mkdir()
    trust = TrustDirectory(folder)
    assert trust.store().certificates == ()
    pki = make_pki("ecdsa")
    (folder / "a.der").write_bytes(pki.csca.public_bytes(serialization.Encoding.DER))
    assert [c.subject for c in trust.store().certificates] == [pki.csca.subject]
    (folder / "a.der").unlink()
    assert trust.store().certificates == ()


def test_no_folder_trusts_nothing_and_a_broken_one_fails_at_start(tmp_path: Path) -> None:
    assert TrustDirectory(None).store().certificates == ()
    with pytest.raises(ConfigError, match="not a directory"):
        TrustDirectory(tmp_path / "missing")
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nxx\n")
    with pytest.raises(TrustStoreError, match=r"bad\.pem: a PEM certificate"):
        load_trust_dir(tmp_path)
    with pytest.raises(ConfigError):
        TrustDirectory(tmp_path)
