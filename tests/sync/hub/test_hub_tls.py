"""Transport: TLS with a pinned CA; plain HTTP refused off loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.errors import HubError
from sync.hub import create_hub_app, start_hub, tls_context


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "motcua test hub")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "hub.crt", tmp_path / "hub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_with_pinned_ca(tmp_path, hub_factory):
    hub = hub_factory("sqlite", start=False)
    cert, key = _self_signed(tmp_path)

    async def scenario() -> None:
        app = create_hub_app(hub.storage, hub.keys, data_dir=hub.data_dir)
        running = await start_hub(app, host="127.0.0.1", port=0, ssl_context=tls_context(cert, key))
        try:
            assert running.url.startswith("https://")
            pinned = ssl.create_default_context(cafile=str(cert))

            def fetch(ctx):
                with urllib.request.urlopen(f"{running.url}/v1/time", context=ctx, timeout=10) as resp:
                    return json.loads(resp.read())

            assert "server_time" in await asyncio.to_thread(fetch, pinned)
            with pytest.raises(urllib.error.URLError):
                await asyncio.to_thread(fetch, ssl.create_default_context())  # system store: not trusted
        finally:
            await running.stop()

    asyncio.run(scenario())


def test_plain_http_only_on_loopback(hub_factory):
    hub = hub_factory("sqlite", start=False)

    async def scenario() -> None:
        app = create_hub_app(hub.storage, hub.keys, data_dir=hub.data_dir)
        with pytest.raises(HubError, match="plain HTTP"):
            await start_hub(app, host="0.0.0.0", port=0)

    asyncio.run(scenario())
