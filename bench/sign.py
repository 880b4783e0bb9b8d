"""``motcua bench sign``: signing a 10-page component PDF through the PKCS#11 token (SoftHSM2)
against pyHanko signing the same file with the same key held in memory, in the same run.

A SoftHSM2 token is made in a scratch directory (``bench._token``: a test CA, a 2048-bit RSA
key and its certificate written onto the token with pkcs11-tool). One workload round is the
product's path, ``edge.signing.sign_batch``: re-initialise the module, read the certificate,
log in with the PIN, sign (PAdES B-B, the box's time), log out. One baseline round is pyHanko's
``SimpleSigner`` with the same key and certificate in memory signing the same PDF through the
same PAdES call. Rounds are interleaved by ``bench._harness.compare`` (token, memory, token, …,
after one unmeasured pair: module load, imports); the ratio is the median of the per-pair ratios.
No goal: the issue set none, and the baseline is not a floor the token could reach (see below).

The ratio comes out below 1 (the token is faster): pyHanko's ``SimpleSigner.sign_raw`` loads the
private key from its DER form on every call (``load_der_private_key``, whose RSA key check is the
costly part) and signs for real in the size-estimating dry run too, while the PKCS#11 signer
answers the dry run with placeholder bytes and SoftHSM2 keeps the key loaded (seen in a profile:
``sign_raw`` is about 40 % of the in-memory round).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._harness import BenchResult, BenchUnavailable, compare

PAGES = 10


@dataclass
class _Setup:
    root: Path
    token: Any
    cfg: Any
    pdf: bytes
    memory_signer: Any
    fingerprint: str


def _setup(pages: int) -> _Setup:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign.signers import SimpleSigner

    from edge.signing import SigningConfig

    from ._token import component_pdf, make_token, missing_tools

    if missing_tools():
        raise BenchUnavailable(f"SoftHSM2/OpenSC are not installed ({', '.join(missing_tools())}): "
                               "Debian packages softhsm2 opensc")
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-sign-"))
    token = make_token(root, pin="bench-pin-1234")
    os.environ["SOFTHSM2_CONF"] = str(token.conf)
    roots = root / "roots.pem"
    roots.write_bytes(token.ca.pem())
    cfg = SigningConfig(pkcs11_module=token.module, token_label=token.token_label, key_label=token.key_label,
                        trust_roots=str(roots))
    der = serialization.Encoding.DER
    cert = asn1_x509.Certificate.load(token.cert.public_bytes(der))
    key = asn1_keys.PrivateKeyInfo.load(token.key.private_bytes(der, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from edge.signing._token import cert_sha256

    ca = asn1_x509.Certificate.load(token.ca.cert.public_bytes(der))
    signer = SimpleSigner(signing_cert=cert, signing_key=key,
                          cert_registry=SimpleCertificateStore.from_certs([ca]))  # the chain, as from the token
    return _Setup(root=root, token=token, cfg=cfg, pdf=component_pdf(pages), memory_signer=signer,
                  fingerprint=cert_sha256(token.cert))


def token_round(setup: _Setup) -> float:
    """One workload round: sign the PDF through the token (module, login, sign); seconds."""
    from edge.signing import sign_batch

    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    [signed] = sign_batch(setup.cfg, setup.token.pin, [setup.pdf], now=now)
    elapsed = time.perf_counter() - start
    assert signed.data.startswith(setup.pdf)
    return elapsed


def memory_round(setup: _Setup) -> float:
    """One baseline round: pyHanko signs the same PDF with the key in memory; seconds."""
    from edge.signing._sign import sign_pdf

    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    signed = sign_pdf(setup.pdf, setup.memory_signer, signing_time=now, cert_sha256=setup.fingerprint)
    elapsed = time.perf_counter() - start
    assert signed.data.startswith(setup.pdf)
    return elapsed


def run(quick: bool = False, rounds: int | None = None, **_: Any) -> BenchResult:
    old_env = os.environ.get("SOFTHSM2_CONF")
    setup = _setup(PAGES)
    try:
        cmp = compare(lambda: token_round(setup), lambda: memory_round(setup), rounds=rounds, warmup=1)
        return cmp.result(name="sign", metric=f"seconds to sign a {PAGES}-page component PDF through SoftHSM2",
                          unit="s", baseline="pyHanko signing the same PDF with the key in memory",
                          details={"pdf_bytes": len(setup.pdf), "pages": PAGES, "quick": quick,
                                   "key": "RSA 2048, SHA-256, PAdES B-B",
                                   "note": "SimpleSigner reloads its key from DER and signs in the dry run: "
                                           "see the docstring"})
    finally:
        if old_env is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old_env
        shutil.rmtree(setup.root, ignore_errors=True)
