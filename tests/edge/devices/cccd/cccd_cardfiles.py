"""Test card content: a test CSCA and Document Signer, DG1, a Vietnamese DG13, EF.COM and EF.SOD.

Built at test set-up with cryptography's x509 and asn1crypto's CMS; nothing here is real data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.devices.cccd._mrz import check_digit
from edge.devices.cccd._sod import LDS_SECURITY_OBJECT_OID, DataGroupHash, LdsSecurityObject
from edge.devices.cccd._tlv import encode

ID_NUMBER = "079190001234"
DOC_NUMBER = ID_NUMBER[-9:]
CAN = ID_NUMBER[-6:]  # a CCCD's card access number: the last 6 digits of the ID number
DOB = "900215"
EXPIRY = "300215"
DG13_VALUES: dict[int, object] = {
    1: ID_NUMBER, 2: "Nguyễn Thị Thu Hằng", 3: "15/02/1990", 4: "Nữ", 5: "Việt Nam", 6: "Kinh",
    7: "Không", 8: "Xã Hòa Hưng, Huyện Cái Bè, Tiền Giang",
    9: "Số 12 Đường Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
    10: "Nốt ruồi C:1cm dưới trước mép phải", 11: "20/04/2021", 12: "15/02/2030",
    13: ["Nguyễn Văn Đức", "Trần Thị Mỹ"], 14: "", 15: "023456789",
}


@dataclass
class Pki:
    csca_key: ec.EllipticCurvePrivateKey
    csca_cert: x509.Certificate
    ds_key: ec.EllipticCurvePrivateKey
    ds_cert: x509.Certificate

    def csca_pem(self) -> bytes:
        return self.csca_cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(label: str = "Test CSCA VN", *, ds_days: tuple[int, int] = (-1, 3650),
             csca_days: tuple[int, int] = (-1, 3650)) -> Pki:
    """A CSCA and its Document Signer; ``*_days`` = validity (from, to) in days from now."""
    now = dt.datetime.now(dt.UTC)
    csca_key = ec.generate_private_key(ec.SECP256R1())
    csca_cert = (x509.CertificateBuilder().subject_name(_name(label)).issuer_name(_name(label))
                 .public_key(csca_key.public_key()).serial_number(x509.random_serial_number())
                 .not_valid_before(now + dt.timedelta(days=csca_days[0]))
                 .not_valid_after(now + dt.timedelta(days=csca_days[1]))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                 .sign(csca_key, hashes.SHA256()))
    ds_key = ec.generate_private_key(ec.SECP256R1())
    ds_cert = (x509.CertificateBuilder().subject_name(_name(label + " Document Signer")).issuer_name(csca_cert.subject)
               .public_key(ds_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + dt.timedelta(days=ds_days[0]))
               .not_valid_after(now + dt.timedelta(days=ds_days[1]))
               .sign(csca_key, hashes.SHA256()))
    return Pki(csca_key=csca_key, csca_cert=csca_cert, ds_key=ds_key, ds_cert=ds_cert)


def mrz_text() -> str:
    l1 = "IDVNM" + DOC_NUMBER + check_digit(DOC_NUMBER) + (ID_NUMBER + "<<<")
    l2 = DOB + check_digit(DOB) + "F" + EXPIRY + check_digit(EXPIRY) + "VNM" + "<" * 11
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    l3 = "NGUYEN<<THI<THU<HANG".ljust(30, "<")
    assert len(l1) == len(l2) == len(l3) == 30
    return l1 + l2 + l3


def build_dg1() -> bytes:
    return encode(0x61, encode(0x5F1F, mrz_text().encode("ascii")))


def build_dg13(values: dict[int, object] | None = None) -> bytes:
    values = DG13_VALUES if values is None else values
    entries = b""
    for number, value in values.items():
        if isinstance(value, list):
            inner = encode(0x30, b"".join(encode(0x0C, v.encode("utf-8")) for v in value))
        else:
            inner = encode(0x0C, str(value).encode("utf-8"))
        entries += encode(0x30, core.Integer(number).dump() + inner)
    body = core.Integer(1).dump() + core.ObjectIdentifier("1.2.704.0.1.13").dump() + encode(0x31, entries)
    return encode(0x6D, encode(0x30, body))


def build_com(tags: bytes = b"\x61\x6D") -> bytes:
    return encode(0x60, encode(0x5F01, b"0107") + encode(0x5F36, b"040000") + encode(0x5C, tags))


def unknown_key_certificate(pki: Pki, oid: str = "1.3.6.1.4.1.55555.1") -> asn1_x509.Certificate:
    """The Document Signer certificate with its public key re-labelled as an unknown algorithm."""
    cert = asn1_x509.Certificate.load(pki.ds_cert.public_bytes(serialization.Encoding.DER))
    tbs = cert["tbs_certificate"]
    spki = encode(0x30, encode(0x30, core.ObjectIdentifier(oid).dump()) + encode(0x03, b"\x00\x01\x02"))
    tbs_der = encode(0x30, tbs.contents.replace(tbs["subject_public_key_info"].dump(), spki))
    return asn1_x509.Certificate.load(encode(0x30, tbs_der + cert["signature_algorithm"].dump()
                                             + cert["signature_value"].dump()))


def build_sod(groups: dict[int, bytes], pki: Pki, *, empty_attribute: str | None = None,
              certificate: asn1_x509.Certificate | None = None) -> bytes:
    """EF.SOD over ``groups`` signed by the DS of ``pki``. Crafted variants: ``empty_attribute``
    ("content_type" / "message_digest") gets an empty SET of values; ``certificate`` replaces the
    DS certificate carried in the SOD."""
    lds = LdsSecurityObject({
        "version": 0,
        "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "data_group_hash_values": [DataGroupHash({"data_group_number": n, "data_group_hash_value": hashlib.sha256(d).digest()})
                                   for n, d in sorted(groups.items())],
    })
    content = lds.dump()
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": [cms.ContentType(LDS_SECURITY_OBJECT_OID)]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
    ])
    if empty_attribute is not None:
        signed_attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": a["type"].native, "values": [] if a["type"].native == empty_attribute
                              else a["values"]}) for a in signed_attrs])
    signature = pki.ds_key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    ds_asn1 = certificate if certificate is not None else asn1_x509.Certificate.load(
        pki.ds_cert.public_bytes(serialization.Encoding.DER))
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": ds_asn1.issuer, "serial_number": ds_asn1.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": signature,
    })
    signed = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": LDS_SECURITY_OBJECT_OID, "content": content},
        "certificates": [ds_asn1],
        "signer_infos": [signer],
    })
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return encode(0x77, info.dump())


def card_files(pki: Pki, *, dg13: bytes | None = None, sign_dg13: bytes | None = None,
               **sod_options) -> dict[int, bytes]:
    """FID → file bytes. ``sign_dg13`` lets the SOD cover a different DG13 than the card holds;
    ``sod_options`` go to :func:`build_sod` (crafted SODs)."""
    dg1, dg13 = build_dg1(), dg13 or build_dg13()
    sod = build_sod({1: dg1, 13: sign_dg13 or dg13}, pki, **sod_options)
    return {0x011E: build_com(), 0x0101: dg1, 0x010D: dg13, 0x011D: sod}
