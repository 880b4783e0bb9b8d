"""HTTPS with the hub's CA pinned: the box trusts that CA only, and checks the host name."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import threading
from pathlib import Path

import pytest
from boxkit import add_dossier, assert_exactly_once, make_box
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.client import SyncClient, enroll_async
from sync.errors import TransportError


def _ca(tmp: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def _server_cert(tmp: Path, ca_key, ca_cert, names: list[str]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    alt = [x509.DNSName(n) for n in names if not n[0].isdigit()]
    alt += [x509.IPAddress(ipaddress.ip_address(n)) for n in names if n[0].isdigit()]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = tmp / "hub.crt", tmp / "hub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_hub(tmp_path, hub_factory):
    from sync.hub import create_hub_app, start_hub, tls_context

    handle = hub_factory("sqlite", start=False)
    ca_key, ca_cert, ca_path = _ca(tmp_path, "city-ca")
    cert, key = _server_cert(tmp_path, ca_key, ca_cert, ["localhost", "127.0.0.1"])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    app = create_hub_app(handle.storage, handle.keys, data_dir=handle.data_dir)
    running = asyncio.run_coroutine_threadsafe(
        start_hub(app, host="127.0.0.1", port=0, ssl_context=tls_context(cert, key)), loop).result(30)
    yield handle, running.port, ca_path
    asyncio.run_coroutine_threadsafe(running.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


async def test_pinned_ca_enrolls_and_syncs_over_https(tmp_path, tls_hub):
    handle, port, ca_path = tls_hub
    settings, store = make_box(tmp_path)
    try:
        await enroll_async(store, f"https://localhost:{port}", handle.add_station("HN-0001"), ca_file=str(ca_path),
                           station_id="HN-0001")
        pinned = Path(store.meta_get("sync.ca_file"))
        assert await asyncio.to_thread(pinned.read_bytes) == await asyncio.to_thread(ca_path.read_bytes)
        client = SyncClient(settings=settings, store=store)
        add_dossier(store, pages=1)
        await client.sync_once()
        await client.stop()
        assert_exactly_once(store, handle)
    finally:
        store.close()


async def test_a_hub_certified_by_another_ca_is_refused(tmp_path, tls_hub):
    handle, port, _ca_path = tls_hub
    _, _, other_ca = _ca(tmp_path, "some-other-ca")
    settings, store = make_box(tmp_path)
    try:
        token = handle.add_station("HN-0002")
        with pytest.raises(TransportError, match="(?i)certificate"):
            await enroll_async(store, f"https://localhost:{port}", token, ca_file=str(other_ca), station_id="HN-0002")
        assert store.meta_get("sync.station_id") is None  # nothing half-written
    finally:
        store.close()
