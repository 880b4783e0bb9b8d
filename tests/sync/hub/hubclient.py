"""A minimal station for tests: signed requests over http.client (real HTTP on loopback)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.codes import is_agency_code
from sync.protocol import (
    CHUNK_MEDIA_TYPE,
    H_SERVER_TIME,
    StationSigner,
    manifest_sha256,
    sha256_hex,
)

AGENCY = "000.00.06.H56"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def code(self) -> str | None:
        return self.headers.get("x-motcua-error")


class Station:
    def __init__(self, url: str, station_id: str, key: Ed25519PrivateKey | None = None) -> None:
        self.url = urllib.parse.urlsplit(url)
        self.station_id = station_id
        self.key = key or Ed25519PrivateKey.generate()
        self.signer = StationSigner(station_id, self.key)
        self.last_signed_headers: dict[str, str] = {}

    def raw(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
        try:
            conn.request(method, path, body=body if body or method in ("PUT", "POST", "PATCH") else None,
                         headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()
        if H_SERVER_TIME.lower() in reply.headers:
            import time

            self.signer.offset_ms = int(reply.headers[H_SERVER_TIME.lower()]) - int(time.time() * 1000)
        return reply

    def signed(self, method: str, path: str, body: bytes = b"", *, content_type: str = "application/json",
               extra: dict[str, str] | None = None, **sign_kwargs: Any) -> Reply:
        headers = self.signer.headers(method, path, body, **sign_kwargs)
        if body:
            headers["Content-Type"] = content_type
        headers.update(extra or {})
        self.last_signed_headers = headers
        return self.raw(method, path, body, headers)

    def json_call(self, method: str, path: str, obj: Any) -> Reply:
        return self.signed(method, path, json.dumps(obj).encode())

    # protocol steps
    def enroll(self, token: str) -> Reply:
        pub = base64.b64encode(self.key.public_key().public_bytes_raw()).decode()
        body = json.dumps({"station_id": self.station_id, "token": token, "public_key": pub}).encode()
        return self.raw("POST", "/v1/enroll", body, {"Content-Type": "application/json"})

    def put(self, manifest: dict) -> Reply:
        return self.json_call("PUT", f"/v1/dossiers/{manifest['dossier_id']}", manifest)

    def head(self, dossier_id: str, sha: str) -> Reply:
        return self.signed("HEAD", f"/v1/dossiers/{dossier_id}/blobs/{sha}")

    def patch(self, dossier_id: str, sha: str, offset: int, chunk: bytes, *, checksum: str | None = None) -> Reply:
        path = f"/v1/dossiers/{dossier_id}/blobs/{sha}"
        return self.signed("PATCH", path, chunk, content_type=CHUNK_MEDIA_TYPE,
                           extra={"Upload-Offset": str(offset)},
                           content_sha256=checksum or sha256_hex(chunk))

    def upload(self, dossier_id: str, blob: bytes, *, chunk: int = 64 * 1024) -> Reply:
        sha = hashlib.sha256(blob).hexdigest()
        offset = int(self.head(dossier_id, sha).headers["upload-offset"])
        reply = None
        while offset < len(blob):
            reply = self.patch(dossier_id, sha, offset, blob[offset:offset + chunk])
            assert reply.status == 204, (reply.status, reply.body)
            offset = int(reply.headers["upload-offset"])
        return reply or self.head(dossier_id, sha)

    def commit(self, manifest: dict) -> Reply:
        return self.json_call("POST", f"/v1/dossiers/{manifest['dossier_id']}/commit",
                              {"manifest_sha256": manifest_sha256(manifest)})

    def feed(self, since: int = 0, limit: int = 100) -> Reply:
        return self.signed("GET", f"/v1/feed?since={since}&limit={limit}")

    def heartbeat(self, **fields: Any) -> Reply:
        return self.json_call("POST", "/v1/heartbeat", {"pending": 0, **fields})


def fake_manifest(station_id: str, *, agency: str = AGENCY, blobs: list[bytes] | None = None,
                  number: int | None = None, dossier_id: str | None = None) -> dict:
    """A well-formed manifest with random sealed fields (the hub never opens them)."""
    assert is_agency_code(agency)
    blobs = blobs if blobs is not None else [os.urandom(3000)]
    number = number if number is not None else secrets.randbelow(999) + 1
    b64 = lambda n: base64.b64encode(os.urandom(n)).decode()  # noqa: E731
    return {
        "version": 1,
        "dossier_id": dossier_id or secrets.token_hex(8),
        "station_id": station_id,
        "agency_code": agency,
        "code": f"{agency}-261122-{number:04d}",
        "procedure_code": "1.001612",
        "received_at": "2026-11-22T09:00:00+07:00",
        "due_at": None,
        "counter": 1,
        "hlc": "test",
        "clock_anchored": True,
        "dek": {"kem": "X25519", "ciphertext": b64(80)},
        "personal": {"applicant": b64(60), "form": b64(30)},
        "blobs": [{"index": i, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b), "component": "Tờ khai",
                   "media_type": "image/png"} for i, b in enumerate(blobs)],
    }
