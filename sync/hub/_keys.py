"""The hub's keys and its data directory layout.

``DATA_DIR/keys/receipt-signing.json`` holds the Ed25519 key that signs receipts and commands;
``DATA_DIR/keys/city-public-key.json`` the city's HPKE public key handed to boxes at enrollment
(its JSON form, ``core.sealed``). The city *private* key is not needed to run the hub: ``hub open`` takes
it from a file the city keeps elsewhere. ``DATA_DIR/hub.json`` records the database URL
and the blob store (``blobs``).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.errors import MotcuaError
from core.fsutil import write_file_atomic
from core.sealed import CityPrivateKey, CityPublicKey
from sync.errors import HubError
from sync.protocol import KEMS, key_id

logger = logging.getLogger(__name__)

RECEIPT_KEY_FILE = "receipt-signing.json"
CITY_PUBLIC_FILE = "city-public-key.json"
CITY_PRIVATE_FILE = "city-private-key.json"
CONFIG_FILE = "hub.json"


@dataclass(frozen=True, slots=True)
class HubKeys:
    """Receipt-signing key and the city's public key."""

    receipt_key: Ed25519PrivateKey
    city_public: CityPublicKey

    @property
    def receipt_public_raw(self) -> bytes:
        return self.receipt_key.public_key().public_bytes_raw()

    @property
    def receipt_key_id(self) -> str:
        return key_id(self.receipt_public_raw)

    @classmethod
    def generate(cls, *, city_public: CityPublicKey) -> HubKeys:
        return cls(receipt_key=Ed25519PrivateKey.generate(), city_public=city_public)

    @classmethod
    def load(cls, data_dir: Path) -> HubKeys:
        keys = Path(data_dir) / "keys"
        try:
            doc = json.loads((keys / RECEIPT_KEY_FILE).read_text())
            raw = base64.b64decode(doc["ed25519_private"], validate=True)
            receipt = Ed25519PrivateKey.from_private_bytes(raw)
        except FileNotFoundError:
            raise HubError(f"{data_dir} is not an initialised hub directory: run `motcua hub init --data-dir {data_dir}`") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise HubError(f"receipt signing key {keys / RECEIPT_KEY_FILE} is damaged: {exc}") from None
        return cls(receipt_key=receipt, city_public=load_city_public(keys / CITY_PUBLIC_FILE))

    def save(self, data_dir: Path) -> None:
        keys = Path(data_dir) / "keys"
        keys.mkdir(mode=0o700, parents=True, exist_ok=True)
        raw = self.receipt_key.private_bytes_raw()
        doc = {"kind": "motcua-hub-receipt-key", "ed25519_private": base64.b64encode(raw).decode(),
               "key_id": self.receipt_key_id}
        write_file_atomic(keys / RECEIPT_KEY_FILE, json.dumps(doc, indent=1).encode(), mode=0o600)
        write_file_atomic(keys / CITY_PUBLIC_FILE, json.dumps(self.city_public.to_json(), indent=1).encode(), mode=0o644)

    def anchors(self) -> dict[str, Any]:
        """What a box learns at enrollment (and what provisioning bundles carry)."""
        return {"receipt_public_key": base64.b64encode(self.receipt_public_raw).decode(),
                "receipt_key_id": self.receipt_key_id,
                "city_public_key": self.city_public.to_json()}


def load_city_public(path: Path) -> CityPublicKey:
    """A city key file, public or private (then only its public half is kept)."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HubError(f"city key file {path} does not exist") from None
    except ValueError as exc:
        raise HubError(f"city key file {path} is not JSON: {exc}") from None
    try:
        if isinstance(doc, dict) and doc.get("kind") == "motcua-city-private-key":
            return CityPrivateKey.from_json(doc).public()
        return CityPublicKey.from_json(doc)
    except (MotcuaError, ValueError) as exc:  # KeyFormatError (a precise message) or a bad key length
        raise HubError(f"city key file {path}: {exc}") from None


def load_city_private(path: Path) -> CityPrivateKey:
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HubError(f"city key file {path} does not exist") from None
    except ValueError as exc:
        raise HubError(f"city key file {path} is not JSON: {exc}") from None
    try:
        return CityPrivateKey.from_json(doc)
    except (MotcuaError, ValueError) as exc:
        raise HubError(f"{path} is not a city private key: {exc}") from None


def init_data_dir(data_dir: Path, *, city_key: Path | None = None, kem: str = "MLKEM768_X25519",
                  db: str | None = None, blobs: dict[str, Any] | None = None) -> tuple[HubKeys, Path | None]:
    """Create keys and config; returns the keys and, when generated here, the city private key path."""
    data_dir = Path(data_dir)
    if (data_dir / "keys" / RECEIPT_KEY_FILE).exists():
        raise HubError(f"{data_dir} is already initialised (keys/{RECEIPT_KEY_FILE} exists)")
    if kem not in KEMS:
        raise HubError(f"unknown KEM {kem!r} (choose {', '.join(KEMS)})")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    private_path = None
    if city_key is not None:
        city_public = load_city_public(city_key)
    else:
        private = CityPrivateKey.generate(kem)
        city_public = private.public()
        (data_dir / "keys").mkdir(mode=0o700, exist_ok=True)
        private_path = data_dir / "keys" / CITY_PRIVATE_FILE
        write_file_atomic(private_path, json.dumps(private.to_json(), indent=1).encode(), mode=0o600)
        logger.warning("generated a city key pair; its private key is at %s: keep it offline", private_path)
    keys = HubKeys.generate(city_public=city_public)
    keys.save(data_dir)
    config: dict[str, Any] = {"db": db}
    if blobs:  # the S3 blob store (sync.hub.S3Config): where, never the credentials
        config["blobs"] = blobs
    write_config(data_dir, config)
    for sub in ("blobs", "partial"):
        (data_dir / sub).mkdir(mode=0o700, exist_ok=True)
    return keys, private_path


def read_config(data_dir: Path) -> dict[str, Any]:
    path = Path(data_dir) / CONFIG_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise HubError(f"{path} is not JSON: {exc}") from None
    return doc if isinstance(doc, dict) else {}


def write_config(data_dir: Path, config: dict[str, Any]) -> None:
    write_file_atomic(Path(data_dir) / CONFIG_FILE, json.dumps(config, indent=1).encode(), mode=0o600)
