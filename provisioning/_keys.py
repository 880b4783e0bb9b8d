"""The provisioning directory: the provisioning Ed25519 key and the hub's trust anchors.

Layout of ``--keys DIR``::

    provisioning.key        Ed25519 private key (PKCS#8 PEM, mode 0600): signs every bundle
    provisioning.pub        its public key (PEM): goes into the box image as /etc/motcua/provisioning.pub
    anchors/hub-receipt.pub the hub's receipt-signing public key (base64 of the raw 32 bytes, as the
                            hub hands it out at enrollment)
    anchors/city.pub        the city's HPKE public key (JSON, as edge.store reads it)
    anchors/hub-ca.pem      the CA certificate that signed the hub's TLS certificate (optional for a loopback hub)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._errors import KeysMissingError, ProvisioningError
from ._files import write_atomic

logger = logging.getLogger(__name__)

PRIVATE_NAME = "provisioning.key"
PUBLIC_NAME = "provisioning.pub"
RECEIPT_NAME = "hub-receipt.pub"
CITY_NAME = "city.pub"
CA_NAME = "hub-ca.pem"

# A hub's data directory (sync/hub/_keys.py): keys/receipt-signing.json, keys/city-public-key.json;
# the TLS CA is not part of it unless IT put one there (ca.pem).
_HUB_CA_CANDIDATES = ("ca.pem", "hub-ca.pem", "tls/ca.pem", "ca.crt")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustAnchors:
    """What a box must trust: the hub's receipt key, the city's HPKE key, the hub's TLS CA."""

    hub_receipt_key: str
    city_public_key: str
    ca_pem: str = ""

    def to_json(self) -> dict[str, str]:
        return {"hub_receipt_key": self.hub_receipt_key, "city_public_key": self.city_public_key, "ca_pem": self.ca_pem}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvisioningKeys:
    """A loaded provisioning directory."""

    directory: Path
    private_key: Ed25519PrivateKey
    anchors: TrustAnchors

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: how labels, bundles and the image name a key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The provisioning public key a box trusts (PEM, as written by ``provision init``)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProvisioningError(f"provisioning public key {path} does not exist (the image must carry it; see docs/deploy.md)") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ProvisioningError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ProvisioningError(f"{path}: not an Ed25519 public key")
    return key


def _check_city_key(text: str, origin: str) -> str:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProvisioningError(f"{origin}: the city public key is not JSON ({exc})") from None
    from core.sealed import CityPublicKey

    if not isinstance(data, dict):
        raise ProvisioningError(f"{origin}: not a city public key (a JSON object is expected)")
    if "private" in str(data.get("kind", "")) or any(k in data for k in ("x25519_private", "mlkem768_seed", "mlkem_seed", "seed")):
        raise ProvisioningError(f"{origin}: this is a city PRIVATE key; give the public key only")
    try:
        CityPublicKey.from_json(data)
    except Exception as exc:
        raise ProvisioningError(f"{origin}: not a city public key: {exc}") from None
    return text


def _check_receipt_key(text: str, origin: str) -> str:
    """Accept PEM or base64 of the raw key; keep the protocol's form (base64 of the raw 32 bytes)."""
    if "PRIVATE" in text:
        raise ProvisioningError(f"{origin}: this is a private key; give the hub's receipt PUBLIC key")
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(stripped.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(stripped, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ProvisioningError(f"{origin}: not an Ed25519 public key (PEM or base64 of 32 bytes): {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ProvisioningError(f"{origin}: the hub's receipt key must be Ed25519")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode() + "\n"


def _check_ca(text: str, origin: str) -> str:
    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise ProvisioningError(f"{origin}: not a PEM certificate ({exc})") from None
    return text


def _from_hub_data(hub_data: Path) -> dict[str, str]:
    """The receipt public key and city public key of a hub data directory."""
    if not hub_data.is_dir():
        raise ProvisioningError(f"hub data directory {hub_data} does not exist")
    from sync.errors import HubError
    from sync.hub._keys import HubKeys

    try:
        keys = HubKeys.load(hub_data)
    except HubError as exc:
        raise ProvisioningError(f"cannot read the hub's keys: {exc}") from None
    return {RECEIPT_NAME: base64.b64encode(keys.receipt_public_raw).decode() + "\n",
            CITY_NAME: json.dumps(keys.city_public.to_json(), indent=1) + "\n"}


def _first(base: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (base / name).is_file():
            return base / name
    return None


def init_keys(directory: Path, *, hub_data: Path | None = None, receipt_key: Path | None = None,
              city_key: Path | None = None, ca: Path | None = None) -> tuple[ProvisioningKeys, bool]:
    """Create the provisioning key (kept if it exists) and import trust anchors.

    Returns the loaded keys and whether a new key was made.
    """
    anchors_dir = directory / "anchors"
    sources: dict[str, Path | None] = {RECEIPT_NAME: receipt_key, CITY_NAME: city_key, CA_NAME: ca}
    staged: dict[str, str] = {}
    if hub_data is not None:
        staged.update(_from_hub_data(hub_data))
        sources[CA_NAME] = sources[CA_NAME] or _first(hub_data, _HUB_CA_CANDIDATES)
    checks = {RECEIPT_NAME: _check_receipt_key, CITY_NAME: _check_city_key, CA_NAME: _check_ca}
    # Read and check every anchor before writing any.
    for name, src in sources.items():
        if src is None:
            continue
        try:
            text = src.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError) as exc:
            raise ProvisioningError(f"{src}: cannot read ({exc})") from None
        staged[name] = checks[name](text, str(src))
    # Only now, with every input checked, does anything reach the disk.
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    anchors_dir.mkdir(exist_ok=True, mode=0o700)
    created = False
    private_path = directory / PRIVATE_NAME
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        write_atomic(private_path, pem, mode=0o600)
        created = True
        logger.info("created provisioning key %s", private_path)
    key = _load_private(private_path)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_atomic(directory / PUBLIC_NAME, pub, mode=0o644)
    for name, text in staged.items():
        write_atomic(anchors_dir / name, text.encode(), mode=0o644)
    return load_keys(directory), created


def _load_private(path: Path) -> Ed25519PrivateKey:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeysMissingError(f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeysMissingError(f"{path}: not a readable provisioning key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeysMissingError(f"{path}: not an Ed25519 key")
    return key


def load_keys(directory: Path) -> ProvisioningKeys:
    """Load a provisioning directory; say how to create it when something is missing."""
    private_path = directory / PRIVATE_NAME
    how = f"create it with: motcua provision init --keys {directory} --hub-data HUB_DATA_DIR"
    if not private_path.is_file():
        raise KeysMissingError(f"no provisioning key in {directory} ({PRIVATE_NAME} is missing); {how}")
    key = _load_private(private_path)
    anchors_dir = directory / "anchors"
    texts: dict[str, str] = {}
    for name in (RECEIPT_NAME, CITY_NAME, CA_NAME):
        path = anchors_dir / name
        texts[name] = path.read_text(encoding="utf-8") if path.is_file() else ""
    for name in (RECEIPT_NAME, CITY_NAME):
        if not texts[name]:
            raise KeysMissingError(f"the trust anchor anchors/{name} is missing in {directory}; import the hub's anchors: "
                                   f"motcua provision init --keys {directory} --hub-data HUB_DATA_DIR "
                                   f"(or --receipt-key FILE --city-key FILE --ca FILE)")
    return ProvisioningKeys(directory=directory, private_key=key, anchors=TrustAnchors(
        hub_receipt_key=texts[RECEIPT_NAME], city_public_key=texts[CITY_NAME], ca_pem=texts[CA_NAME]))
