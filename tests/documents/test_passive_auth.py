"""Passive authentication against a test PKI built here (tests/documents/pki.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from tests.documents.pki import NOW, build_sod, chip_files, make_pki, master_list

from bordermatch.documents import lds
from bordermatch.documents.passive_auth import TrustStore, authenticate, load_certificates
from bordermatch.errors import LdsError, TrustStoreError


@pytest.fixture(scope="module", params=["rsa", "ecdsa", "rsa-pss"])
def chip(request):
    kind = request.param
    pki = make_pki("ecdsa" if kind == "ecdsa" else "rsa")
    dgs = chip_files()
    return pki, dgs, build_sod(dgs, pki, pss=kind == "rsa-pss")


def test_valid_chip(chip) -> None:
    pki, dgs, sod = chip
    result = authenticate(sod, dgs, TrustStore((pki.csca,)), at=NOW)
    assert result.status == "valid", result.details
    assert result.data_groups == ((1, True), (2, True))
    assert result.csca and "CSCA Utopia" in result.csca and "DS Utopia" in result.signer


@pytest.mark.parametrize("dg", [1, 2])
def test_altered_data_group_is_tampered(chip, dg: int) -> None:
    pki, dgs, sod = chip
    changed = bytearray(dgs[dg])
    changed[-3] ^= 0x01  # inside the MRZ text or the JPEG data
    result = authenticate(sod, dgs | {dg: bytes(changed)}, TrustStore((pki.csca,)), at=NOW)
    assert result.status == "tampered"
    assert f"DG{dg} hash does not match EF.SOD" in result.details
    assert dict(result.data_groups)[dg] is False


def test_unsigned_data_group_is_tampered(chip) -> None:
    pki, dgs, sod = chip
    result = authenticate(sod, dgs | {11: b"\x6b\x00"}, TrustStore((pki.csca,)), at=NOW)
    assert result.status == "tampered" and "DG11 is present but EF.SOD does not sign it" in (
        result.details)


def test_forged_signature_is_tampered() -> None:
    pki = make_pki("rsa")
    dgs = chip_files()
    sod = bytearray(build_sod(dgs, pki))
    sod[-10] ^= 0xFF  # the signature is the SOD's last field
    result = authenticate(bytes(sod), dgs, TrustStore((pki.csca,)), at=NOW)
    assert result.status == "tampered"
    assert "Document Signer signature does not verify" in result.details


def test_sod_resigned_by_another_key_is_untrusted() -> None:
    genuine, forger = make_pki("rsa"), make_pki("rsa")  # same names, different keys
    dgs = chip_files()
    result = authenticate(build_sod(dgs, forger), dgs, TrustStore((genuine.csca,)), at=NOW)
    assert result.status == "untrusted"
    assert any("signed the Document Signer certificate" in d for d in result.details)


def test_unknown_csca_is_untrusted(chip) -> None:
    _, dgs, sod = chip
    other = make_pki("rsa", name="CSCA Elsewhere")
    for store in (TrustStore(), TrustStore((other.csca,))):
        result = authenticate(sod, dgs, store, at=NOW)
        assert result.status == "untrusted"
        assert any("no trusted CSCA named" in d for d in result.details)


def test_expired_csca_is_untrusted() -> None:
    pki = make_pki("ecdsa", csca_valid=(NOW - timedelta(days=4000), NOW - timedelta(days=1)))
    dgs = chip_files()
    result = authenticate(build_sod(dgs, pki), dgs, TrustStore((pki.csca,)), at=NOW)
    assert result.status == "untrusted"
    assert any("outside its validity" in d for d in result.details)
    # The same chip checked while the CSCA was still valid passes.
    earlier = authenticate(build_sod(dgs, pki), dgs, TrustStore((pki.csca,)),
                           at=NOW - timedelta(days=2))
    assert earlier.status == "valid", earlier.details


def test_tampered_wins_over_untrusted(chip) -> None:
    _, dgs, sod = chip
    result = authenticate(sod, dgs | {1: lds.build_dg1(("X" * 44, "Y" * 44))}, TrustStore(),
                          at=NOW)
    assert result.status == "tampered"


def test_unsupported_hash_algorithm() -> None:
    pki = make_pki("rsa")
    dgs = chip_files()
    result = authenticate(build_sod(dgs, pki, hash_name="md5"), dgs, TrustStore((pki.csca,)),
                          at=NOW)
    assert result.status == "unsupported" and "hash algorithm md5" in result.details


def test_malformed_sod_is_a_named_error() -> None:
    with pytest.raises(LdsError):
        authenticate(lds.encode_tlv(0x77, b"\x30\x03\x02\x01\x00"), {}, TrustStore(), at=NOW)
    with pytest.raises(LdsError):
        authenticate(b"\x77\x82\x01", {}, TrustStore(), at=NOW)


def test_trust_store_loading() -> None:
    a, b = make_pki("rsa"), make_pki("ecdsa", name="CSCA Other")
    pem = b"".join(p.csca.public_bytes(serialization.Encoding.PEM) for p in (a, b))
    assert [c.subject for c in load_certificates(pem)] == [a.csca.subject, b.csca.subject]
    der = a.csca.public_bytes(serialization.Encoding.DER)
    assert load_certificates(der)[0] == a.csca
    assert set(load_certificates(master_list([a.csca, b.csca]))) == {a.csca, b.csca}
    with pytest.raises(TrustStoreError):  # a Document Signer is not a trust anchor
        load_certificates(a.ds.public_bytes(serialization.Encoding.DER))
    with pytest.raises(TrustStoreError):
        load_certificates(b"not a certificate")


def test_read_chip_without_sod_is_untrusted_and_reads_the_rest() -> None:
    from bordermatch.documents.chip import file_key, read_chip

    result = read_chip(chip_files(), TrustStore(), at=NOW)
    assert result.passive_auth.status == "untrusted" and result.mrz.valid
    assert result.faces[0].width == 96 and result.face_error is None
    assert not result.valid
    assert [file_key(n) for n in ("EF.COM", "EF_SOD.bin", "DG2", "dg14.bin", "photo.jpg")] == [
        "com", "sod", 2, 14, None]


def test_every_flipped_or_cut_byte_of_ef_sod_is_a_result_or_a_named_error(chip) -> None:
    """EF.SOD is the caller's bytes: whatever one of them is, authenticate answers with a
    status or an LdsError, never another exception (it raised cryptography's InvalidVersion
    and a bare ValueError for a Document Signer key that does not load)."""
    from bordermatch.errors import BordermatchError

    pki, dgs, sod = chip
    trust = TrustStore((pki.csca,))
    statuses: set[str] = set()
    for i in range(0, len(sod), 2):
        for mutated in (sod[:i] + bytes([sod[i] ^ 0x01]) + sod[i + 1:], sod[:i]):
            try:
                statuses.add(authenticate(mutated, dgs, trust, at=NOW).status)
            except BordermatchError as exc:
                statuses.add(exc.code)
    assert {"tampered", "bad_lds"} <= statuses
