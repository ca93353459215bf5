"""Passive authentication of an eMRTD chip (ICAO Doc 9303 Part 11, 5.1; PKI: Part 12).

EF.SOD is a CMS SignedData (RFC 5652) whose content is the LDSSecurityObject: the hash of
every data group. ``authenticate`` checks, without trusting anything on the chip:

1. the hash of every data group read against the SOD (a data group the SOD does not list is
   unsigned, so it fails too);
2. the signed attributes' message digest against the LDSSecurityObject, and the Document
   Signer's signature over them (RSA PKCS#1 v1.5, RSA-PSS, ECDSA);
3. that a trusted CSCA signed the DS certificate, and that both certificates are within
   their validity at the time of the check.

The status is the worst finding: ``tampered`` (a hash or a signature fails) over
``unsupported`` (an algorithm or content type we do not implement) over ``untrusted`` (no
trusted, currently valid CSCA vouches for the signer) over ``valid``. DER is parsed with
asn1crypto and signatures are checked with cryptography; nothing is parsed by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bordermatch.documents.lds import read_file
from bordermatch.errors import LdsError, TrustStoreError

LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
CSCA_MASTER_LIST = "2.23.136.1.1.2"
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class DataGroupHash(core.Sequence):
    _fields: ClassVar[list] = [("data_group_number", core.Integer),
                               ("data_group_hash_value", core.OctetString)]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):
    _fields: ClassVar[list] = [("lds_version", core.PrintableString),
                               ("unicode_version", core.PrintableString)]


class LdsSecurityObject(core.Sequence):
    _fields: ClassVar[list] = [("version", core.Integer), ("hash_algorithm", algos.DigestAlgorithm),
               ("data_group_hash_values", DataGroupHashValues),
               ("lds_version_info", LdsVersionInfo, {"optional": True})]


class _CertificateSet(core.SetOf):
    _child_spec = core.Any


class CscaMasterList(core.Sequence):
    _fields: ClassVar[list] = [("version", core.Integer), ("cert_list", _CertificateSet)]


@dataclass(frozen=True, slots=True)
class Sod:
    hash_algorithm: str
    hashes: dict[int, bytes]
    signed_data: cms.SignedData
    econtent: bytes


def parse_sod(data: bytes) -> Sod:
    """EF.SOD (tag 77) -> its LDSSecurityObject and SignedData; LdsError if malformed."""
    inner = read_file(data, 0x77, "EF.SOD").value
    try:
        info = cms.ContentInfo.load(inner, strict=True)
        if info["content_type"].native != "signed_data":
            raise LdsError("EF.SOD: the ContentInfo is not SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != LDS_SECURITY_OBJECT:
            raise LdsError(f"EF.SOD: content type {encap['content_type'].dotted}, "
                           "not the LDSSecurityObject")
        econtent = bytes(encap["content"].contents) if encap["content"] else b""
        lso = LdsSecurityObject.load(econtent, strict=True)
        dg = {int(h["data_group_number"].native): bytes(h["data_group_hash_value"].native)
              for h in lso["data_group_hash_values"]}
        return Sod(lso["hash_algorithm"]["algorithm"].native, dg, signed, econtent)
    except (ValueError, TypeError, KeyError) as exc:
        raise LdsError(f"EF.SOD: malformed DER ({exc})") from None


@dataclass(frozen=True, slots=True)
class TrustStore:
    """Trusted CSCA certificates (from files or ICAO master lists)."""

    certificates: tuple[x509.Certificate, ...] = ()

    def candidates(self, issuer: x509.Name) -> list[x509.Certificate]:
        return [c for c in self.certificates if c.subject == issuer]


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """CSCA certificates from PEM (one or more), DER, or an ICAO CSCA master list (CMS)."""
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise TrustStoreError(f"a PEM certificate that does not load ({exc})") from None
    else:
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError:
            certs = _master_list(data)
    for cert in certs:
        try:
            ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca:
            raise TrustStoreError(f"{cert.subject.rfc4514_string()} is not a CA certificate")
    return certs


def _master_list(data: bytes) -> list[x509.Certificate]:
    try:
        info = cms.ContentInfo.load(data, strict=True)
        encap = info["content"]["encap_content_info"]
        if encap["content_type"].dotted != CSCA_MASTER_LIST:
            raise TrustStoreError("neither a certificate nor an ICAO CSCA master list")
        ml = CscaMasterList.load(bytes(encap["content"].contents), strict=True)
        return [x509.load_der_x509_certificate(c.dump()) for c in ml["cert_list"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise TrustStoreError(f"not a certificate, PEM bundle or master list ({exc})") from None


@dataclass(frozen=True, slots=True)
class PassiveAuthResult:
    status: str  # "valid" | "untrusted" | "tampered" | "unsupported"
    details: tuple[str, ...]
    hash_algorithm: str | None = None
    data_groups: tuple[tuple[int, bool], ...] = ()  # (number, hash matches)
    signer: str | None = None
    csca: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "details": list(self.details),
                "hash_algorithm": self.hash_algorithm,
                "data_groups": {f"DG{n}": ok for n, ok in self.data_groups},
                "signer": self.signer, "csca": self.csca}


@dataclass
class _Findings:
    tampered: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def status(self) -> str:
        for name in ("tampered", "unsupported", "untrusted"):
            if getattr(self, name):
                return name
        return "valid"

    def details(self) -> tuple[str, ...]:
        return tuple(self.tampered + self.unsupported + self.untrusted + self.passed)


def authenticate(sod_bytes: bytes, data_groups: dict[int, bytes], trust: TrustStore,
                 at: datetime | None = None) -> PassiveAuthResult:
    """Passive authentication of the data groups read (number -> file bytes)."""
    at = at or datetime.now(UTC)
    sod = parse_sod(sod_bytes)
    try:
        return _authenticate(sod, data_groups, trust, at)
    except (ValueError, TypeError, KeyError, x509.InvalidVersion, UnsupportedAlgorithm) as exc:
        # asn1crypto parses lazily: DER broken deep inside (a certificate, an attribute)
        # surfaces only when read. Malformed, like a broken TLV: the reader should retry.
        raise LdsError(f"EF.SOD: malformed DER inside the SignedData ({exc})") from None


def _authenticate(sod: Sod, data_groups: dict[int, bytes], trust: TrustStore,
                  at: datetime) -> PassiveAuthResult:
    f = _Findings()
    hash_name = sod.hash_algorithm
    checked: list[tuple[int, bool]] = []
    if hash_name not in _HASHES:
        f.unsupported.append(f"hash algorithm {hash_name}")
    else:
        for number, content in sorted(data_groups.items()):
            expected = sod.hashes.get(number)
            ok = expected is not None and hashlib.new(hash_name, content).digest() == expected
            checked.append((number, ok))
            if expected is None:
                f.tampered.append(f"DG{number} is present but EF.SOD does not sign it")
            elif not ok:
                f.tampered.append(f"DG{number} hash does not match EF.SOD")
            else:
                f.passed.append(f"DG{number} {hash_name} hash matches")
    signer = _signer_certificate(sod.signed_data)
    csca_name = None
    if signer is None:
        f.untrusted.append("EF.SOD carries no Document Signer certificate")
    else:
        _check_signature(sod, signer, f)
        csca_name = _check_chain(signer, trust, at, f)
    return PassiveAuthResult(f.status(), f.details(), hash_name, tuple(checked),
                             signer.subject.rfc4514_string() if signer else None, csca_name)


def _signer_certificate(signed: cms.SignedData) -> x509.Certificate | None:
    infos = signed["signer_infos"]
    if len(infos) != 1:
        raise LdsError(f"EF.SOD has {len(infos)} signer infos; Doc 9303 requires one")
    sid = infos[0]["sid"]
    for choice in signed["certificates"] or []:
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            match = (cert.issuer == sid.chosen["issuer"]
                     and cert.serial_number == sid.chosen["serial_number"].native)
        else:
            match = cert.key_identifier == sid.chosen.native
        if match:
            return x509.load_der_x509_certificate(cert.dump())
    return None


def _check_signature(sod: Sod, signer: x509.Certificate, f: _Findings) -> None:
    info = sod.signed_data["signer_infos"][0]
    digest_name = info["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        f.unsupported.append(f"signature digest {digest_name}")
        return
    attrs = info["signed_attrs"]
    if attrs:
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        if digests != [hashlib.new(digest_name, sod.econtent).digest()]:
            f.tampered.append("signed message digest does not match the LDSSecurityObject")
            return
        signed_bytes = attrs.untag().dump()  # signed as a SET OF, not as [0] IMPLICIT
    else:
        signed_bytes = sod.econtent
    algo = info["signature_algorithm"]
    try:
        key = signer.public_key()
    except ValueError as exc:  # the certificate's key was altered: nothing can verify
        f.tampered.append(f"Document Signer public key does not load ({exc})")
        return
    except UnsupportedAlgorithm as exc:
        f.unsupported.append(f"Document Signer key: {exc}")
        return
    h = _HASHES[digest_name]()
    signature = info["signature"].native
    try:
        if algo.signature_algo == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algo["parameters"]
            pss = padding.PSS(mgf=padding.MGF1(_HASHES[params["hash_algorithm"]["algorithm"]
                                                       .native]()),
                              salt_length=params["salt_length"].native)
            key.verify(signature, signed_bytes, pss, _HASHES[params["hash_algorithm"]
                                                             ["algorithm"].native]())
        elif algo.signature_algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), h)
        elif algo.signature_algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(h))
        else:
            f.unsupported.append(f"signature algorithm {algo['algorithm'].native} with a "
                                 f"{type(key).__name__}")
            return
    except InvalidSignature:
        f.tampered.append("Document Signer signature does not verify")
        return
    except (ValueError, KeyError) as exc:
        f.unsupported.append(f"signature algorithm {algo['algorithm'].native}: {exc}")
        return
    f.passed.append(f"Document Signer signature verifies ({algo['algorithm'].native})")


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _check_chain(signer: x509.Certificate, trust: TrustStore, at: datetime,
                 f: _Findings) -> str | None:
    issuer = signer.issuer.rfc4514_string()
    candidates = trust.candidates(signer.issuer)
    if not candidates:
        f.untrusted.append(f"no trusted CSCA named {issuer}")
        return None
    for csca in candidates:
        try:
            signer.verify_directly_issued_by(csca)
        except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
            continue
        name = csca.subject.rfc4514_string()
        if not _valid_at(csca, at):
            f.untrusted.append(f"CSCA {name} is outside its validity "
                               f"({csca.not_valid_before_utc:%Y-%m-%d} to "
                               f"{csca.not_valid_after_utc:%Y-%m-%d})")
        elif not _valid_at(signer, at):
            f.untrusted.append(f"Document Signer certificate is outside its validity "
                               f"({signer.not_valid_before_utc:%Y-%m-%d} to "
                               f"{signer.not_valid_after_utc:%Y-%m-%d})")
        else:
            f.passed.append(f"Document Signer certificate issued by trusted CSCA {name}")
        return name
    f.untrusted.append(f"no trusted CSCA named {issuer} signed the Document Signer certificate")
    return None
