"""A SoftHSM2 token with a test CA's signing certificate on it (the benchmark's and tests' token).

A scratch ``SOFTHSM2_CONF`` points SoftHSM2 at a private token directory; ``softhsm2-util``
creates the token and ``pkcs11-tool`` (OpenSC) writes the key (PKCS#8 DER) and the certificate
(DER) onto it with the same label, as a unit's USB token holds them. The CA and the certificate
are made with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                     "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")


def softhsm_module() -> str | None:
    """The SoftHSM2 PKCS#11 module on this machine, or None (Debian package softhsm2)."""
    return next((m for m in MODULE_CANDIDATES if Path(m).exists()), None)


def missing_tools() -> list[str]:
    missing = [t for t in ("softhsm2-util", "pkcs11-tool") if shutil.which(t) is None]
    if softhsm_module() is None:
        missing.append("libsofthsm2.so")
    return missing


@dataclass(frozen=True, kw_only=True)
class TestCA:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True, kw_only=True)
class TestToken:
    """A SoftHSM2 token: module, conf file, labels, PINs and what is on it."""

    module: str
    conf: Path
    token_label: str
    key_label: str
    pin: str
    so_pin: str
    ca: TestCA
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf)}


def make_ca(common_name: str = "Test CA ký số", *, days: int = 3650) -> TestCA:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Motcua Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return TestCA(cert=cert, key=key)


def issue(ca: TestCA, common_name: str, *, not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A signing certificate for ``common_name`` from ``ca`` (validity one year from yesterday)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + dt.timedelta(days=365)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "UBND Phường Thử Nghiệm"),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return cert, key


def make_token(root: Path, *, ca: TestCA | None = None, token_label: str = "MOTCUA-TEST", key_label: str = "signer",
               pin: str = "123456", so_pin: str = "87654321", common_name: str = "Bộ phận Một cửa Thử nghiệm",
               not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> TestToken:
    """Create a SoftHSM2 token under ``root`` holding a key and its certificate from ``ca``."""
    module = softhsm_module()
    if module is None or missing_tools():
        raise RuntimeError(f"SoftHSM2/OpenSC are not installed: missing {', '.join(missing_tools())}")
    root.mkdir(parents=True, exist_ok=True)
    tokens = root / "tokens"
    tokens.mkdir(exist_ok=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    ca = ca or make_ca()
    cert, key = issue(ca, common_name, not_before=not_before, not_after=not_after)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", token_label, "--pin", pin,
                    "--so-pin", so_pin], check=True, capture_output=True, env=env)
    key_der = root / "key.der"
    cert_der = root / "cert.der"
    key_der.write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert_der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    try:
        for path, kind in ((key_der, "privkey"), (cert_der, "cert")):
            subprocess.run(["pkcs11-tool", "--module", module, "--login", "--pin", pin, "--token-label", token_label,
                            "--write-object", str(path), "--type", kind, "--id", "01", "--label", key_label],
                           check=True, capture_output=True, env=env)
    finally:
        key_der.unlink(missing_ok=True)  # the key lives on the token only
    return TestToken(module=module, conf=conf, token_label=token_label, key_label=key_label, pin=pin,
                     so_pin=so_pin, ca=ca, cert=cert, key=key)


def component_pdf(pages: int = 10, *, seed: int = 7) -> bytes:
    """A component's PDF as the scanner assembles it: one grey A4-at-100-dpi image per page (img2pdf)."""
    import io

    import img2pdf
    from PIL import Image

    images = []
    for i in range(pages):
        out = io.BytesIO()
        Image.new("L", (850, 1100), (seed * 17 + i * 9) % 256).save(out, format="PNG")
        images.append(out.getvalue())
    return img2pdf.convert(images)


def remove_token(token: TestToken) -> None:
    """Pull the token out: delete it from SoftHSM2's token directory."""
    env = {**os.environ, "SOFTHSM2_CONF": str(token.conf)}
    subprocess.run(["softhsm2-util", "--delete-token", "--token", token.token_label], check=True,
                   capture_output=True, env=env)
