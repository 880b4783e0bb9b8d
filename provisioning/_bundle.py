"""The per-station bundle: one signed JSON file carrying config, a one-time token and trust anchors.

File format (``<serial>.motcua-bundle``)::

    {"format": "motcua-provisioning-bundle", "version": 1,
     "key_fingerprint": "<sha256 hex of the provisioning public key>",
     "payload": "<base64 of the payload JSON>",
     "signature": "<base64 Ed25519 signature over b'motcua-bundle/v1\\n' + payload bytes>"}

The payload is only trusted after the signature checks out against the provisioning public key the
box image carries. The payload holds a bearer secret (the enrollment token): the file is written
with mode 0600, the token is single-use and expires, and the box scrubs its copy after enrolling.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._errors import BundleError
from ._keys import TrustAnchors, fingerprint

FORMAT = "motcua-provisioning-bundle"
VERSION = 1
SUFFIX = ".motcua-bundle"
_CONTEXT = b"motcua-bundle/v1\n"
MAX_BUNDLE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class BundlePayload:
    """What a box learns from its bundle."""

    serial: str
    station_id: str
    issued_at: str
    token: str
    token_expires_at: str
    station: dict[str, Any]   # the [station] section of edge.toml
    sync: dict[str, Any]      # the [sync] section (hub_url; ca_file is set by first boot)
    anchors: TrustAnchors
    provisioning_key: str     # fingerprint of the key that signed this bundle
    replaces: str = ""        # serial of the box this one replaces, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial, "station_id": self.station_id, "issued_at": self.issued_at,
            "token": self.token, "token_expires_at": self.token_expires_at,
            "station": self.station, "sync": self.sync, "anchors": self.anchors.to_json(),
            "provisioning_key": self.provisioning_key, "replaces": self.replaces,
        }

    @classmethod
    def from_json(cls, data: Any) -> BundlePayload:
        if not isinstance(data, dict):
            raise BundleError("bundle payload is not a JSON object")
        need = ("serial", "station_id", "issued_at", "token", "token_expires_at", "station", "sync", "anchors", "provisioning_key")
        missing = [k for k in need if k not in data]
        if missing:
            raise BundleError(f"bundle payload lacks {', '.join(missing)}")
        anchors = data["anchors"]
        if not isinstance(anchors, dict) or not anchors.get("hub_receipt_key") or not anchors.get("city_public_key"):
            raise BundleError("bundle payload: anchors must hold hub_receipt_key and city_public_key")
        for key in ("station", "sync"):
            if not isinstance(data[key], dict):
                raise BundleError(f"bundle payload: {key} must be an object")
        for key in ("serial", "station_id", "issued_at", "token", "token_expires_at", "provisioning_key"):
            if not isinstance(data[key], str) or not data[key]:
                raise BundleError(f"bundle payload: {key} must be a non-empty string")
        return cls(
            serial=data["serial"], station_id=data["station_id"], issued_at=data["issued_at"],
            token=data["token"], token_expires_at=data["token_expires_at"],
            station=data["station"], sync=data["sync"],
            anchors=TrustAnchors(hub_receipt_key=str(anchors["hub_receipt_key"]),
                                 city_public_key=str(anchors["city_public_key"]),
                                 ca_pem=str(anchors.get("ca_pem") or "")),
            provisioning_key=data["provisioning_key"], replaces=str(data.get("replaces") or ""),
        )

    def expires(self) -> dt.datetime:
        try:
            when = dt.datetime.fromisoformat(self.token_expires_at)
        except ValueError:
            raise BundleError(f"bundle payload: token_expires_at {self.token_expires_at!r} is not an ISO date-time") from None
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def sign_bundle(payload: BundlePayload, key: Ed25519PrivateKey) -> bytes:
    """The bundle file's bytes."""
    body = json.dumps(payload.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    envelope = {
        "format": FORMAT, "version": VERSION,
        "key_fingerprint": fingerprint(key.public_key()),
        "payload": base64.b64encode(body).decode(),
        "signature": base64.b64encode(key.sign(_CONTEXT + body)).decode(),
    }
    return json.dumps(envelope, indent=1).encode() + b"\n"


def verify_bundle(data: bytes, public_key: Ed25519PublicKey, *, origin: str = "bundle") -> BundlePayload:
    """Check the envelope and the signature, then parse the payload. Raises :class:`BundleError`."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{origin}: {len(data)} bytes is too large for a bundle")
    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{origin}: malformed bundle, not JSON ({exc})") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise BundleError(f"{origin}: not a provisioning bundle (format must be {FORMAT!r})")
    if envelope.get("version") != VERSION:
        raise BundleError(f"{origin}: unsupported bundle version {envelope.get('version')!r} (this box reads version {VERSION})")
    try:
        body = base64.b64decode(envelope["payload"], validate=True)
        signature = base64.b64decode(envelope["signature"], validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise BundleError(f"{origin}: malformed bundle, payload or signature is not base64 ({exc})") from None
    expected = fingerprint(public_key)
    if envelope.get("key_fingerprint") != expected:
        raise BundleError(f"{origin}: signed by another provisioning key (bundle names {str(envelope.get('key_fingerprint'))[:16]}…, "
                          f"this box trusts {expected[:16]}…)")
    try:
        public_key.verify(signature, _CONTEXT + body)
    except InvalidSignature:
        raise BundleError(f"{origin}: signature does not verify: the bundle was altered or signed by another key") from None
    try:
        payload = BundlePayload.from_json(json.loads(body))
    except ValueError as exc:
        raise BundleError(f"{origin}: signed payload is not JSON ({exc})") from None
    if payload.provisioning_key != expected:
        raise BundleError(f"{origin}: payload names another provisioning key")
    return payload


def read_bundle(path: Path, public_key: Ed25519PublicKey) -> BundlePayload:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"bundle {path} does not exist") from None
    return verify_bundle(data, public_key, origin=str(path))
