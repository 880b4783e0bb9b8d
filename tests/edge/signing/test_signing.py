"""Signing through a real PKCS#11 module (SoftHSM2): PAdES checked by pyHanko and by poppler."""

from __future__ import annotations

import datetime as dt
import io
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from bench._token import remove_token
from edge.signing import SigningConfig, SigningError, sign_batch, token_status
from tests.tokens import PIN, component_pdf, signing_section


def _cfg(token, **extra) -> SigningConfig:
    return SigningConfig(**{**signing_section(token), **extra})


def _validate(data: bytes, roots_pem: bytes):
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(der) for _t, _h, der in pem.unarmor(roots_pem, multiple=True)]
    sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    return validate_pdf_signature(sig, ValidationContext(trust_roots=roots, allow_fetching=False))


def _pdfsig(path: Path) -> str:
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig is not installed (Debian package poppler-utils)")
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout


def test_signs_pades_bb_with_the_box_time_checked_by_pyhanko_and_pdfsig(token_factory, tmp_path: Path):
    token = token_factory()
    cfg = _cfg(token)
    status = token_status(cfg)
    assert status.state == "ok" and status.present and status.cert_subject.startswith("CN=Bộ phận Một cửa")
    box_time = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=7)  # the corrected clock
    original = component_pdf(10)
    [signed] = sign_batch(cfg, PIN, [original], now=box_time)
    assert signed.level == "B-B" and signed.signed_at == box_time.isoformat()
    assert signed.cert_sha256 == status.cert_sha256
    assert signed.data.startswith(original)  # an incremental update: the scanned bytes are kept

    result = _validate(signed.data, token.ca.pem())
    assert result.bottom_line and result.intact and result.valid and result.trusted
    assert result.signer_reported_dt == box_time
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed.data)
    report = _pdfsig(path)
    assert "Signature is Valid" in report and "Bộ phận Một cửa Thử nghiệm" in report
    assert "ETSI.CAdES.detached" in report  # the PAdES subfilter
    assert "Total document signed" in report


def test_altered_after_signing_fails_both_validators(token_factory, tmp_path: Path):
    token = token_factory()
    [signed] = sign_batch(_cfg(token), PIN, [component_pdf(2)], now=dt.datetime.now(dt.UTC))
    data = bytearray(signed.data)
    at = data.index(b"/Width")  # inside the first signed byte range
    data[at + 7:at + 8] = b"9" if data[at + 7:at + 8] != b"9" else b"8"
    result = _validate(bytes(data), token.ca.pem())
    assert not result.intact and not result.bottom_line
    path = tmp_path / "altered.pdf"
    path.write_bytes(bytes(data))
    assert "Signature is Valid" not in _pdfsig(path)


def test_wrong_pin_is_refused_and_the_retry_counter_shows_it(token_factory):
    token = token_factory()
    cfg = _cfg(token)
    with pytest.raises(SigningError) as err:
        sign_batch(cfg, "000000-wrong", [component_pdf(1)], now=dt.datetime.now(dt.UTC))
    assert err.value.status == "wrong_pin" and "PIN không đúng" in err.value.message_vi
    status = token_status(cfg)
    assert status.pin_count_low and status.state == "warning" and "nhập sai PIN" in status.message_vi
    sign_batch(cfg, PIN, [component_pdf(1)], now=dt.datetime.now(dt.UTC))
    assert not token_status(cfg).pin_count_low  # a right PIN resets the token's counter


def test_absent_token_is_a_status_and_a_clear_refusal(token_factory):
    token = token_factory()
    cfg = _cfg(token)
    remove_token(token)
    status = token_status(cfg)
    assert status.state == "absent" and not status.present and not status.can_sign
    assert "Không tìm thấy thiết bị ký số" in status.message_vi
    with pytest.raises(SigningError) as err:
        sign_batch(cfg, PIN, [component_pdf(1)], now=dt.datetime.now(dt.UTC))
    assert err.value.status == "absent"
    missing_module = token_status(_cfg(token, pkcs11_module="/nonexistent/libp11.so"))
    assert missing_module.state == "module" and "PKCS#11" in missing_module.message_vi


def test_expired_certificate_is_refused_before_the_pin_is_tried(token_factory):
    now = dt.datetime.now(dt.UTC)
    token = token_factory(not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=2))
    cfg = _cfg(token)
    status = token_status(cfg)
    assert status.state == "expired" and status.present and "hết hạn" in status.message_vi
    with pytest.raises(SigningError) as err:
        sign_batch(cfg, "not-even-tried", [component_pdf(1)], now=now)
    assert err.value.status == "expired"
    assert not token_status(cfg).pin_count_low  # the PIN never reached the token


def test_certificate_expiring_within_30_days_warns(token_factory):
    now = dt.datetime.now(dt.UTC)
    token = token_factory(not_after=now + dt.timedelta(days=12, hours=1))
    status = token_status(_cfg(token))
    assert status.state == "warning" and status.can_sign and status.days_left == 12
    assert "hết hạn sau 12 ngày" in status.message_vi


def test_untrusted_certificate_on_the_token_is_refused(token_factory, tmp_path: Path):
    from bench._token import make_ca

    token = token_factory()
    other = tmp_path / "other-roots.pem"
    other.write_bytes(make_ca("Some other CA").pem())
    cfg = _cfg(token, trust_roots=str(other))
    assert token_status(cfg).state == "untrusted"
    with pytest.raises(SigningError) as err:
        sign_batch(cfg, PIN, [component_pdf(1)], now=dt.datetime.now(dt.UTC))
    assert err.value.status == "untrusted"


def test_unreachable_timestamping_service_falls_back_to_bb(token_factory, caplog):
    token = token_factory()
    cfg = _cfg(token, tsa_url="http://127.0.0.1:9/tsa", tsa_timeout_seconds=1.0)  # discard port: refused
    with caplog.at_level(logging.DEBUG):
        [signed] = sign_batch(cfg, PIN, [component_pdf(1)], now=dt.datetime.now(dt.UTC))
    assert signed.level == "B-B" and _validate(signed.data, token.ca.pem()).bottom_line
    assert PIN not in caplog.text


@pytest.fixture
def tsa(token_factory):
    """An RFC 3161 timestamping service on 127.0.0.1 (pyHanko's TSA responder behind http.server),
    its certificate issued by the token's test CA; stopped at teardown."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from asn1crypto import keys as asn1_keys
    from asn1crypto import tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    hsm = token_factory()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
            .issuer_name(hsm.ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(hsm.ca.key, hashes.SHA256()))
    der = serialization.Encoding.DER
    responder = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(der)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(der, serialization.PrivateFormat.PKCS8,
                                                                 serialization.NoEncryption())))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = responder.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hsm, f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_online_with_a_timestamping_service_signs_pades_bt(tsa, tmp_path: Path):
    token, url = tsa
    [signed] = sign_batch(_cfg(token, tsa_url=url), PIN, [component_pdf(1)], now=dt.datetime.now(dt.UTC))
    assert signed.level == "B-T"
    result = _validate(signed.data, token.ca.pem())
    assert result.bottom_line and result.timestamp_validity is not None and result.timestamp_validity.trusted
    from sync.hub._signatures import _check, load_roots

    roots_file = tmp_path / "roots.pem"
    roots_file.write_bytes(token.ca.pem())
    [checked] = _check(signed.data, load_roots(roots_file), None)
    assert checked["valid"] and checked["level"] == "B-T"


def test_signing_after_the_chip_reader_parsed_cms_first(token_factory, tmp_path: Path):
    """In a fresh interpreter, CMS parsed before pyHanko is imported (as a CCCD read does on the
    box) fixes asn1crypto's name maps without tsp's names: signing must still work."""
    import os
    import sys

    token = token_factory()
    script = tmp_path / "after_cms.py"
    script.write_text(
        "import datetime as dt, sys\n"
        "from asn1crypto import cms\n"
        "cms.CMSAttributeType('message_digest')  # the reverse map is built here\n"
        "from edge.signing import SigningConfig, sign_batch\n"
        "from bench._token import component_pdf\n"
        f"cfg = SigningConfig(pkcs11_module={token.module!r}, token_label={token.token_label!r},"
        f" key_label={token.key_label!r}, trust_roots={str(token.conf.parent / 'roots.pem')!r})\n"
        "[s] = sign_batch(cfg, sys.stdin.readline().strip(), [component_pdf(1)], now=dt.datetime.now(dt.UTC))\n"
        "print(s.level)\n")
    done = subprocess.run([sys.executable, str(script)], input=PIN + "\n", capture_output=True, text=True,
                          env={**os.environ, "SOFTHSM2_CONF": str(token.conf)}, cwd=Path(__file__).parents[3],
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "B-B", done.stderr[-2000:]
