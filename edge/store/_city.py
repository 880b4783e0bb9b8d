"""The city's side of a sealed dossier: open it with the city private key.

A manifest (``Store.export_manifest``) carries the dossier key sealed with HPKE to the city and
the personal data sealed with that key; pages are blobs in the STREAM format. Only the city
private key opens them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from edge.errors import IntegrityError

from ._crypto import CityPrivateKey, decrypt_stream, open_bytes, open_from_city


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedDossier:
    dossier_id: str
    dek: bytes
    applicant: dict[str, Any]
    form: dict[str, Any]


def load_city_private_key(text: str | bytes) -> CityPrivateKey:
    try:
        return CityPrivateKey.from_json(json.loads(text))
    except ValueError as exc:
        raise IntegrityError(f"city private key file is not JSON: {exc}") from None


def open_manifest(manifest: dict[str, Any], city_key: CityPrivateKey) -> OpenedDossier:
    """Unseal the dossier key and the personal data of a manifest with the city private key."""
    try:
        dossier_id = manifest["dossier_id"]
        sealed_dek = base64.b64decode(manifest["sealed_dek"])
        applicant = base64.b64decode(manifest["sealed_applicant"])
        form = base64.b64decode(manifest["sealed_form"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"manifest is malformed: {exc}") from None
    dek = open_from_city(city_key, sealed_dek, dossier_id)
    aid = dossier_id.encode()
    return OpenedDossier(dossier_id=dossier_id, dek=dek,
                         applicant=json.loads(open_bytes(dek, applicant, b"applicant|" + aid)),
                         form=json.loads(open_bytes(dek, form, b"form|" + aid)))


def decrypt_page(dek: bytes, dossier_id: str, blob: BinaryIO) -> Iterator[bytes]:
    """Decrypt a page blob of a dossier (the same STREAM format the box writes)."""
    return decrypt_stream(dek, dossier_id, blob)
