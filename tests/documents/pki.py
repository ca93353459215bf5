"""A test PKI and chip issuer: CSCA, Document Signer, EF.SOD over generated DG1 and DG2."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from PIL import Image
from tests.documents.specimens import SPECIMENS

from bordermatch.documents import lds
from bordermatch.documents.passive_auth import (
    CSCA_MASTER_LIST,
    LDS_SECURITY_OBJECT,
    CscaMasterList,
    LdsSecurityObject,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def new_key(kind: str):
    return (ec.generate_private_key(ec.SECP256R1()) if kind == "ecdsa"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "UT"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Utopia"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool,
                not_before: datetime, not_after: datetime) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None),
                              critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    csca: x509.Certificate
    csca_key: object
    ds: x509.Certificate
    ds_key: object


def make_pki(kind: str = "rsa", *, csca_valid: tuple[datetime, datetime] | None = None,
             name: str = "CSCA Utopia") -> Pki:
    csca_key, ds_key = new_key(kind), new_key(kind)
    start, end = csca_valid or (NOW - timedelta(days=365 * 3), NOW + timedelta(days=365 * 12))
    csca = certificate(name, csca_key, name, csca_key, ca=True, not_before=start, not_after=end)
    ds = certificate("DS Utopia", ds_key, name, csca_key, ca=False,
                     not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=3650))
    return Pki(csca, csca_key, ds, ds_key)


def face_image(image_format: str = "jpeg", size: tuple[int, int] = (96, 120)) -> bytes:
    rng = np.random.default_rng(1)
    pixels = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG2000" if image_format == "jpeg2000" else "JPEG")
    return out.getvalue()


def chip_files(image_format: str = "jpeg") -> dict[int, bytes]:
    return {1: lds.build_dg1(SPECIMENS["td3"][1]),
            2: lds.build_dg2(face_image(image_format), 96, 120, image_format)}


def build_sod(dgs: dict[int, bytes], pki: Pki, *, hash_name: str = "sha256",
              pss: bool = False) -> bytes:
    lso = LdsSecurityObject({
        "version": 0, "hash_algorithm": {"algorithm": hash_name},
        "data_group_hash_values": [
            {"data_group_number": n,
             "data_group_hash_value": hashlib.new(hash_name, d).digest()}
            for n, d in sorted(dgs.items())]})
    econtent = lso.dump()
    attrs = cms.CMSAttributes([
        {"type": "content_type", "values": [LDS_SECURITY_OBJECT]},
        {"type": "message_digest", "values": [hashlib.sha256(econtent).digest()]}])
    to_sign = attrs.dump()
    if isinstance(pki.ds_key, ec.EllipticCurvePrivateKey):
        signature = pki.ds_key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        algo = {"algorithm": "sha256_ecdsa"}
    elif pss:
        signature = pki.ds_key.sign(to_sign, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                                    hashes.SHA256())
        algo = {"algorithm": "rsassa_pss", "parameters": {
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            "salt_length": 32, "trailer_field": "trailer_field_bc"}}
    else:
        signature = pki.ds_key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        algo = {"algorithm": "sha256_rsa"}
    ds = asn1_x509.Certificate.load(pki.ds.public_bytes(serialization.Encoding.DER))
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": ds.issuer, "serial_number": ds.serial_number}}),
        "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attrs,
        "signature_algorithm": algo, "signature": signature})
    signed = cms.SignedData({
        "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": LDS_SECURITY_OBJECT, "content": econtent},
        "certificates": [ds], "signer_infos": [signer]})
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return lds.encode_tlv(0x77, info.dump())


def master_list(certs: list[x509.Certificate]) -> bytes:
    """An (unsigned) CSCA master list: enough for loading, which is what the tests cover."""
    ml = CscaMasterList({"version": 0, "cert_list": [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs]})
    signed = cms.SignedData({
        "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": CSCA_MASTER_LIST, "content": ml.dump()},
        "signer_infos": []})
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
