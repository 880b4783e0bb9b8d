"""The city's side of a sealed dossier, as the store has always offered it.

The formats are ``core``'s (``core.manifest.open_manifest`` reads the wire manifest that
``Store.export_manifest`` builds; pages are STREAM blobs); here their errors become the store's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from core import errors as core_errors
from core import manifest as _manifest
from core.manifest import OpenedDossier
from edge.errors import IntegrityError

from ._crypto import CityPrivateKey, decrypt_stream, store_error

__all__ = ["OpenedDossier", "decrypt_page", "load_city_private_key", "open_manifest"]


def load_city_private_key(text: str | bytes) -> CityPrivateKey:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IntegrityError(f"city private key file is not JSON: {exc}") from None
    try:
        return CityPrivateKey.from_json(data)
    except core_errors.SealedError as exc:
        raise store_error(exc) from None


def open_manifest(manifest: dict[str, Any], city_key: CityPrivateKey) -> OpenedDossier:
    """Unseal the dossier key and the personal data of a (wire) manifest with the city private key."""
    try:
        return _manifest.open_manifest(manifest, city_key)
    except core_errors.SealedError as exc:
        raise store_error(exc) from None


def decrypt_page(dek: bytes, dossier_id: str, blob: BinaryIO) -> Iterator[bytes]:
    """Decrypt a page blob of a dossier (the same STREAM format the box writes)."""
    return decrypt_stream(dek, dossier_id, blob)
