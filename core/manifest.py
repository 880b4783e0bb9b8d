"""The dossier manifest, in its one shape: what the box uploads and what the city opens.

A manifest (docs/sync-protocol.md §6.1) holds a dossier's non-personal metadata, its key sealed to
the city with HPKE (``dek``), its personal data sealed with that key (``personal``) and the list of
its page blobs (``blobs``, in the store's page numbering). The box builds it with
:func:`wire_manifest` (``edge.store.Store.export_manifest``), the protocol validates it
(``sync.protocol.parse_manifest``, whose hash covers exactly this object) and the city opens it
with :func:`open_manifest` (``motcua hub open``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import IntegrityError
from .sealed import CityPrivateKey, open_bytes, open_from_city, personal_aad

VERSION = 1
REQUIRED_KEYS = ("version", "dossier_id", "station_id", "agency_code", "code", "procedure_code",
                 "received_at", "due_at", "counter", "hlc", "clock_anchored", "dek", "personal",
                 "blobs")
OPTIONAL_KEYS = ("meta", "documents", "finalized_at", "cipher", "outcome", "signatures")
#: What happened at the counter (docs/sync-protocol.md §6.1): a manifest without ``outcome`` is a
#: dossier received; a refusal (form 03) and a request to supplement (form 02) are sealed and sent
#: the same way, with no appointment (``due_at`` null).
OUTCOMES = ("received", "refused", "supplement_requested")
# per signed page (ký số): its index, component, signer certificate SHA-256, claimed time, PAdES level
SIGNATURE_KEYS = ("index", "component", "cert_sha256", "signed_at", "level")
DEK_KEYS = ("kem", "ciphertext")
PERSONAL_KEYS = ("applicant", "form")
BLOB_KEYS = ("index", "sha256", "size", "component", "media_type")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def no_floats(value: Any) -> Any:
    """Signed objects carry no floats: a float in local metadata travels as its text."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): no_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_floats(v) for v in value]
    return value


def wire_manifest(*, dossier_id: str, station_id: str, agency_code: str, code: str, procedure_code: str,
                  received_at: str, due_at: str | None, counter: int, hlc: str | None, clock_anchored: bool,
                  kem: str, sealed_dek: bytes, sealed_applicant: bytes, sealed_form: bytes,
                  blobs: Iterable[Mapping[str, Any]], finalized_at: str | None = None,
                  cipher: str | None = None, meta: dict[str, Any] | None = None,
                  documents: list[dict[str, Any]] | None = None, outcome: str | None = None,
                  signatures: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The manifest of a finalized dossier, from the store's data.

    ``blobs`` are the dossier's pages (``index``, ``sha256``, ``size``, ``component``,
    ``media_type``): their numbers are kept as they are (from 1, gaps after a removal), so a page
    is called the same on the box and at the city, and listed in that order.
    """
    out: dict[str, Any] = {
        "version": VERSION,
        "dossier_id": dossier_id,
        "station_id": station_id,
        "agency_code": agency_code,
        "code": code,
        "procedure_code": procedure_code,
        "received_at": received_at,
        "due_at": due_at,
        "counter": counter,
        "hlc": hlc or "",
        "clock_anchored": bool(clock_anchored),
        "dek": {"kem": kem, "ciphertext": _b64(sealed_dek)},
        "personal": {"applicant": _b64(sealed_applicant), "form": _b64(sealed_form)},
        "blobs": [{"index": b["index"], "sha256": b["sha256"], "size": b["size"],
                   "component": b.get("component") or "", "media_type": b["media_type"]}
                  for b in sorted(blobs, key=lambda b: b["index"])],
    }
    if finalized_at is not None:
        out["finalized_at"] = finalized_at
    if cipher is not None:
        out["cipher"] = cipher
    if meta:
        out["meta"] = no_floats(meta)
    if documents:
        out["documents"] = no_floats(documents)
    if outcome and outcome != "received":
        out["outcome"] = outcome
    indexes = {b["index"] for b in out["blobs"]}
    signed = [{k: s[k] for k in SIGNATURE_KEYS} for s in signatures if s.get("index") in indexes]
    if signed:
        out["signatures"] = sorted(signed, key=lambda s: s["index"])
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedDossier:
    dossier_id: str
    dek: bytes
    applicant: dict[str, Any]
    form: dict[str, Any]


def open_manifest(manifest: Mapping[str, Any], city_key: CityPrivateKey) -> OpenedDossier:
    """Unseal the dossier key and the personal data of a manifest with the city private key."""
    try:
        dossier_id = manifest["dossier_id"]
        if not isinstance(dossier_id, str):
            raise TypeError("dossier_id is not text")
        sealed_dek = base64.b64decode(manifest["dek"]["ciphertext"], validate=True)
        sealed = {k: base64.b64decode(manifest["personal"][k], validate=True) for k in PERSONAL_KEYS}
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise IntegrityError(f"manifest is malformed: {type(exc).__name__} {exc}") from None
    dek = open_from_city(city_key, sealed_dek, dossier_id)
    opened = {}
    for purpose in PERSONAL_KEYS:
        plain = open_bytes(dek, sealed[purpose], personal_aad(purpose, dossier_id))
        try:
            opened[purpose] = json.loads(plain)
        except ValueError:
            raise IntegrityError(f"manifest's sealed {purpose} is not JSON") from None
    return OpenedDossier(dossier_id=dossier_id, dek=dek, applicant=opened["applicant"], form=opened["form"])
