"""Passive authentication: EF.SOD (CMS SignedData over an LDSSecurityObject) against CSCAs."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from . import _tlv
from ._errors import CardProtocolError

logger = logging.getLogger(__name__)

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"
_HASHES = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
           "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class DataGroupHash(core.Sequence):
    _fields = [("data_group_number", core.Integer), ("data_group_hash_value", core.OctetString)]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class LdsSecurityObject(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class PassiveAuthResult:
    """Outcome of passive authentication; ``verified`` only when every check passed."""

    verified: bool
    reason: str
    reason_vi: str
    hashes_ok: dict[int, bool] = field(default_factory=dict)
    signature_ok: bool = False
    chain_ok: bool = False
    signer: str = ""
    csca: str = ""

    def to_dict(self) -> dict:
        return {"verified": self.verified, "reason": self.reason, "reason_vi": self.reason_vi,
                "hashes_ok": {str(k): v for k, v in sorted(self.hashes_ok.items())},
                "signature_ok": self.signature_ok, "chain_ok": self.chain_ok,
                "signer": self.signer, "csca": self.csca}


def load_csca_dir(path: str | Path | None) -> list[x509.Certificate]:
    """Every PEM or DER certificate in ``path`` (unreadable files are logged and skipped)."""
    if not path:
        return []
    folder = Path(path)
    if not folder.is_dir():
        logger.warning("CSCA directory %s does not exist", folder)
        return []
    certs: list[x509.Certificate] = []
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.stat().st_size > 1 << 20:
            continue
        data = file.read_bytes()
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                certs.extend(x509.load_pem_x509_certificates(data))
            else:
                certs.append(x509.load_der_x509_certificate(data))
        except ValueError:
            logger.warning("skipping %s: not a certificate", file.name)
    return certs


@dataclass(frozen=True, slots=True, kw_only=True)
class Sod:
    signed_data: cms.SignedData
    lds: LdsSecurityObject
    encap_bytes: bytes

    @property
    def hash_name(self) -> str:
        return self.lds["hash_algorithm"]["algorithm"].native

    def expected_hashes(self) -> dict[int, bytes]:
        return {item["data_group_number"].native: item["data_group_hash_value"].native
                for item in self.lds["data_group_hash_values"]}


def parse_sod(data: bytes) -> Sod:
    outer = _tlv.expect(data, 0x77, what="EF.SOD")
    try:
        info = cms.ContentInfo.load(outer.value, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("EF.SOD is not CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != LDS_SECURITY_OBJECT_OID:
            raise ValueError("EF.SOD does not carry an LDSSecurityObject")
        encap_bytes = encap["content"].contents
        lds = LdsSecurityObject.load(encap_bytes, strict=True)
        lds.native  # force a full parse now, so malformation surfaces here  # noqa: B018
        if len(signed["signer_infos"]) != 1:
            raise ValueError("EF.SOD must have exactly one signer")
    except (ValueError, TypeError, KeyError) as exc:
        raise CardProtocolError(f"EF.SOD is malformed: {exc}") from None
    return Sod(signed_data=signed, lds=lds, encap_bytes=encap_bytes)


def _digest(name: str, data: bytes) -> bytes:
    if name not in _HASHES:
        raise ValueError(f"unsupported hash {name}")
    return hashlib.new(name, data).digest()


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    sid = signer["sid"]
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                return x509.load_der_x509_certificate(cert.dump())
        elif cert.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(cert.dump())
    raise ValueError("the Document Signer certificate is not in EF.SOD")


def _verify_signature(cert: x509.Certificate, signer: cms.SignerInfo, message: bytes) -> None:
    hash_cls = _HASHES[signer["digest_algorithm"]["algorithm"].native]
    algo = signer["signature_algorithm"]
    signature = signer["signature"].native
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if algo.signature_algo == "rsassa_pss":
            params = algo["parameters"]
            pad = padding.PSS(mgf=padding.MGF1(_HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()),
                              salt_length=params["salt_length"].native)
        else:
            pad = padding.PKCS1v15()
        key.verify(signature, message, pad, hash_cls())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, message, ec.ECDSA(hash_cls()))
    else:
        raise ValueError("unsupported Document Signer key type")


def passive_authentication(sod: Sod, groups: dict[int, bytes], cscas: list[x509.Certificate]) -> PassiveAuthResult:
    """Check DG hashes, the SOD signature and the Document Signer's chain to a CSCA."""
    expected = sod.expected_hashes()
    try:
        hashes_ok = {n: _digest(sod.hash_name, raw) == expected.get(n) for n, raw in groups.items()}
    except ValueError as exc:
        return PassiveAuthResult(verified=False, reason=str(exc), reason_vi="Thuật toán băm của thẻ chưa được hỗ trợ.")
    bad = sorted(n for n, ok in hashes_ok.items() if not ok)
    signer = sod.signed_data["signer_infos"][0]
    signature_ok, chain_ok, subject, csca_name, problems = False, False, "", "", []
    try:
        cert = _signer_certificate(sod.signed_data, signer)
        subject = cert.subject.rfc4514_string()
        attrs = signer["signed_attrs"]
        if attrs:
            content_type = next((a["values"][0] for a in attrs if a["type"].native == "content_type"), None)
            digest = next((a["values"][0].native for a in attrs if a["type"].native == "message_digest"), None)
            if content_type is None or content_type.dotted != LDS_SECURITY_OBJECT_OID:
                raise ValueError("signed attributes name another content type")
            if digest != _digest(signer["digest_algorithm"]["algorithm"].native, sod.encap_bytes):
                raise ValueError("the message digest does not match the LDSSecurityObject")
            message = b"\x31" + attrs.dump()[1:]  # signed over the DER SET OF, not the [0] tag
        else:
            message = sod.encap_bytes
        _verify_signature(cert, signer, message)
        signature_ok = True
        for csca in cscas:
            if csca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(csca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            chain_ok, csca_name = True, csca.subject.rfc4514_string()
            break
        if not chain_ok:
            problems.append("no CSCA certificate issued the Document Signer")
    except InvalidSignature:
        problems.append("the SOD signature does not verify")
    except (ValueError, TypeError, KeyError) as exc:
        problems.append(f"SOD signature check failed: {exc}")
    if bad:
        problems.insert(0, f"hash mismatch for DG{', DG'.join(map(str, bad))}")
    verified = signature_ok and chain_ok and not bad and bool(hashes_ok)
    if verified:
        reason, reason_vi = "verified", "Dữ liệu chip đã được xác thực (chữ ký số hợp lệ)."
    elif bad:
        reason, reason_vi = "; ".join(problems), "Dữ liệu chip bị thay đổi (mã băm không khớp): CHƯA XÁC THỰC."
    elif signature_ok and not chain_ok:
        reason, reason_vi = "; ".join(problems), "Không xác minh được chứng thư của cơ quan cấp thẻ (CSCA): dữ liệu CHƯA XÁC THỰC."
    else:
        reason, reason_vi = "; ".join(problems) or "no data group checked", "Chữ ký số trên chip không hợp lệ: dữ liệu CHƯA XÁC THỰC."
    logger.info("passive authentication: verified=%s hashes_ok=%s signature_ok=%s chain_ok=%s",
                verified, {k: v for k, v in hashes_ok.items()}, signature_ok, chain_ok)
    return PassiveAuthResult(verified=verified, reason=reason, reason_vi=reason_vi, hashes_ok=hashes_ok,
                             signature_ok=signature_ok, chain_ok=chain_ok, signer=subject, csca=csca_name)
