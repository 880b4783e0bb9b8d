"""Validation of every protocol message; errors name the offending field."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from core import manifest as _wire
from core.codes import MAX_NUMBER, CodeError, is_agency_code, is_ascii_digits, parse_dossier_code
from sync.errors import ProtocolError, SignatureError

from ._constants import (
    CALENDAR_KINDS,
    CLERK_ROLES,
    COMMAND_TYPE,
    DOSSIER_ID_RE,
    DOSSIER_STATUSES,
    KEMS,
    MAX_BLOB_SIZE,
    MAX_BLOBS,
    MAX_META,
    PROCEDURE_CODE_RE,
    RECEIPT_TYPE,
    SHA256_RE,
    STATION_ID_RE,
    STATION_KINDS,
)
from ._encoding import b64d, canonical_json, rfc3339_to_ms, sha256_hex
from ._signing import verify_object
from ._tokens import normalize_token


def _object(value: Any, name: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise ProtocolError(name, "must be a JSON object")
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            # An unknown key is named as JSON (quoted when empty or odd), and not at any length.
            shown = key if STATION_ID_RE.fullmatch(key) else json.dumps(key[:64])
            raise ProtocolError(f"{name}.{shown}" if name != "$" else shown, "unknown field")
    for key in required:
        if key not in value:
            raise ProtocolError(f"{name}.{key}" if name != "$" else key, "is required")
    return value


def _str(value: Any, name: str, *, max_len: int = 256, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ProtocolError(name, "must be a string")
    if not allow_empty and not value.strip():
        raise ProtocolError(name, "must not be empty")
    if len(value) > max_len:
        raise ProtocolError(name, f"is longer than {max_len} characters")
    return value


def _int(value: Any, name: str, *, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(name, "must be an integer")
    if not minimum <= value <= maximum:
        raise ProtocolError(name, f"must be between {minimum} and {maximum}")
    return value


def _match(value: Any, name: str, pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProtocolError(name, f"is not a valid {what}")
    return value


def station_id(value: Any, name: str = "station_id") -> str:
    return _match(value, name, STATION_ID_RE, "station id (letters, digits, . _ -; at most 64)")


def agency_code(value: Any, name: str = "agency_code") -> str:
    if not is_agency_code(value):
        raise ProtocolError(name, "is not a valid agency code (DDD.CC.BB.Xnn in ASCII digits, e.g. 000.00.06.H56)")
    return value


def dossier_id(value: Any, name: str = "dossier_id") -> str:
    return _match(value, name, DOSSIER_ID_RE, "dossier id (8-64 of A-Z a-z 0-9 _ -)")


def sha256(value: Any, name: str = "sha256") -> str:
    return _match(value, name, SHA256_RE, "lowercase hex SHA-256")


# --- enrollment -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollRequest:
    station_id: str
    token: str
    public_key: bytes


def parse_enroll(body: Any) -> EnrollRequest:
    obj = _object(body, "$", required=("station_id", "token", "public_key"))
    raw = b64d(obj["public_key"], "public_key")
    if len(raw) != 32:
        raise ProtocolError("public_key", "must be a raw 32-byte Ed25519 public key")
    return EnrollRequest(station_id=station_id(obj["station_id"]), token=normalize_token(obj["token"]),
                         public_key=raw)


def parse_rotate(body: Any) -> tuple[bytes, bytes]:
    obj = _object(body, "$", required=("new_public_key", "proof"))
    raw = b64d(obj["new_public_key"], "new_public_key")
    if len(raw) != 32:
        raise ProtocolError("new_public_key", "must be a raw 32-byte Ed25519 public key")
    proof = b64d(obj["proof"], "proof")
    if len(proof) != 64:
        raise ProtocolError("proof", "must be a 64-byte Ed25519 signature")
    return raw, proof


# --- manifest -------------------------------------------------------------------------------

# The shape is core's (``core.manifest``): the box builds exactly this object, the city opens it.
MANIFEST_REQUIRED = _wire.REQUIRED_KEYS


@dataclass(frozen=True, slots=True, kw_only=True)
class BlobRef:
    index: int
    sha256: str
    size: int
    component: str
    media_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """A validated dossier manifest; ``raw`` is the object as sent (what is hashed)."""

    dossier_id: str
    station_id: str
    agency_code: str
    code: str
    procedure_code: str
    received_at: str
    due_at: str | None
    kem: str
    blobs: tuple[BlobRef, ...]
    sha256: str
    raw: dict[str, Any] = field(repr=False)
    #: The code's date (yyMMdd, a Vietnam calendar day) and daily number NNNN.
    code_date: dt.date
    code_number: int
    #: What happened at the counter: received, refused or supplement_requested.
    outcome: str = "received"


def manifest_sha256(manifest: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(manifest))


def parse_manifest(body: Any, *, max_blob_size: int = MAX_BLOB_SIZE) -> Manifest:
    obj = _object(body, "$", required=MANIFEST_REQUIRED,
                  optional=_wire.OPTIONAL_KEYS)
    if obj["version"] != _wire.VERSION or isinstance(obj["version"], bool):
        raise ProtocolError("version", f"must be {_wire.VERSION}")
    did = dossier_id(obj["dossier_id"])
    sid = station_id(obj["station_id"])
    agency = agency_code(obj["agency_code"])
    code = _str(obj["code"], "code", max_len=64)
    try:
        parsed = parse_dossier_code(code)
    except CodeError as exc:
        raise ProtocolError("code", f"must be {agency}-yyMMdd-NNNN in ASCII digits, a real date and a number "
                            f"0001-{MAX_NUMBER:04d} ({exc.reason}: {exc.message})") from None
    if parsed.agency != agency:
        raise ProtocolError("code", f"is a code of agency {parsed.agency}, not of {agency}")
    procedure = _match(obj["procedure_code"], "procedure_code", PROCEDURE_CODE_RE, "procedure code (d.dddddd)")
    rfc3339_to_ms(obj["received_at"], "received_at")
    if obj["due_at"] is not None:
        rfc3339_to_ms(obj["due_at"], "due_at")
    _int(obj["counter"], "counter")
    _str(obj["hlc"], "hlc", max_len=64)
    if not isinstance(obj["clock_anchored"], bool):
        raise ProtocolError("clock_anchored", "must be true or false")
    if "meta" in obj:
        if not isinstance(obj["meta"], dict):
            raise ProtocolError("meta", "must be a JSON object")
        if len(canonical_json(obj["meta"])) > MAX_META:
            raise ProtocolError("meta", f"is larger than {MAX_META} bytes")
    if obj.get("finalized_at") is not None:
        rfc3339_to_ms(obj["finalized_at"], "finalized_at")
    if "cipher" in obj:
        _str(obj["cipher"], "cipher", max_len=32)
    if "outcome" in obj and obj["outcome"] not in _wire.OUTCOMES:
        raise ProtocolError("outcome", f"must be one of {', '.join(_wire.OUTCOMES)}")
    if "documents" in obj:
        docs = obj["documents"]
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs) or len(docs) > MAX_BLOBS:
            raise ProtocolError("documents", "must be a list of objects")
        if len(canonical_json(docs)) > MAX_META * 4:
            raise ProtocolError("documents", f"is larger than {MAX_META * 4} bytes")
    if "signatures" in obj:
        sigs = obj["signatures"]
        if not isinstance(sigs, list) or len(sigs) > MAX_BLOBS:
            raise ProtocolError("signatures", "must be a list of objects")
        for i, item in enumerate(sigs):
            sig = _object(item, f"signatures[{i}]", required=_wire.SIGNATURE_KEYS)
            _int(sig["index"], f"signatures[{i}].index", maximum=1_000_000)
            sha256(sig["cert_sha256"], f"signatures[{i}].cert_sha256")
            rfc3339_to_ms(sig["signed_at"], f"signatures[{i}].signed_at")
            _str(sig["component"], f"signatures[{i}].component", max_len=200, allow_empty=True)
            if sig["level"] not in ("B-B", "B-T"):
                raise ProtocolError(f"signatures[{i}].level", "must be B-B or B-T")
    dek = _object(obj["dek"], "dek", required=_wire.DEK_KEYS)
    if dek["kem"] not in KEMS:
        raise ProtocolError("dek.kem", f"must be one of {', '.join(KEMS)}")
    if not b64d(dek["ciphertext"], "dek.ciphertext"):
        raise ProtocolError("dek.ciphertext", "must not be empty")
    personal = _object(obj["personal"], "personal", required=_wire.PERSONAL_KEYS)
    for key in _wire.PERSONAL_KEYS:
        if not b64d(personal[key], f"personal.{key}"):
            raise ProtocolError(f"personal.{key}", "must not be empty")
    blobs_raw = obj["blobs"]
    if not isinstance(blobs_raw, list):
        raise ProtocolError("blobs", "must be a list")
    if len(blobs_raw) > MAX_BLOBS:
        raise ProtocolError("blobs", f"has more than {MAX_BLOBS} entries")
    blobs: list[BlobRef] = []
    for i, item in enumerate(blobs_raw):
        name = f"blobs[{i}]"
        b = _object(item, name, required=_wire.BLOB_KEYS)
        blobs.append(BlobRef(
            index=_int(b["index"], f"{name}.index", maximum=1_000_000),
            sha256=sha256(b["sha256"], f"{name}.sha256"),
            size=_int(b["size"], f"{name}.size", minimum=1, maximum=max_blob_size),
            component=_str(b["component"], f"{name}.component", max_len=200, allow_empty=True),
            media_type=_str(b["media_type"], f"{name}.media_type", max_len=100),
        ))
    if len({b.index for b in blobs}) != len(blobs):
        raise ProtocolError("blobs", "the same index appears twice")
    if len({b.sha256 for b in blobs}) != len(blobs):
        raise ProtocolError("blobs", "the same sha256 appears twice")
    blobs.sort(key=lambda b: b.index)
    return Manifest(dossier_id=did, station_id=sid, agency_code=agency, code=code,
                    procedure_code=procedure, received_at=obj["received_at"], due_at=obj["due_at"],
                    kem=dek["kem"], blobs=tuple(blobs), sha256=manifest_sha256(obj), raw=obj,
                    code_date=parsed.day, code_number=parsed.number, outcome=obj.get("outcome", "received"))



def parse_commit(body: Any) -> str:
    obj = _object(body, "$", required=("manifest_sha256",))
    return sha256(obj["manifest_sha256"], "manifest_sha256")


# --- heartbeat ------------------------------------------------------------------------------

HEARTBEAT_FIELDS = ("pending", "oldest_unsynced_age_s", "disk_free_bytes", "versions", "devices",
                    "feed_seq", "clock_offset_ms", "disk_total_bytes", "sync_errors", "warnings")


def parse_heartbeat(body: Any) -> dict[str, Any]:
    obj = _object(body, "$", required=("pending",), optional=HEARTBEAT_FIELDS)
    _int(obj["pending"], "pending")
    if obj.get("oldest_unsynced_age_s") is not None:
        _int(obj["oldest_unsynced_age_s"], "oldest_unsynced_age_s")
    if obj.get("disk_free_bytes") is not None:
        _int(obj["disk_free_bytes"], "disk_free_bytes")
    if obj.get("feed_seq") is not None:
        _int(obj["feed_seq"], "feed_seq")
    if obj.get("disk_total_bytes") is not None:
        _int(obj["disk_total_bytes"], "disk_total_bytes")
    errors = obj.get("sync_errors")
    if errors is not None:  # failures of this box's sync calls since it started, by error code
        if not isinstance(errors, dict) or len(errors) > 64:
            raise ProtocolError("sync_errors", "must be an object of at most 64 counts")
        for k, v in errors.items():
            _str(k, "sync_errors key", max_len=64)
            _int(v, f"sync_errors.{k}")
    if obj.get("clock_offset_ms") is not None:
        _int(obj["clock_offset_ms"], "clock_offset_ms", minimum=-(2**62), maximum=2**62)
    if obj.get("warnings") is not None:
        if not isinstance(obj["warnings"], list) or len(obj["warnings"]) > 16:
            raise ProtocolError("warnings", "must be a list of at most 16 codes")
        for i, code in enumerate(obj["warnings"]):
            _str(code, f"warnings[{i}]", max_len=64)
    for key in ("versions", "devices"):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or len(value) > 64:
            raise ProtocolError(key, "must be an object of at most 64 string entries")
        for k, v in value.items():
            _str(k, f"{key} key", max_len=64)
            _str(v, f"{key}.{k}", max_len=200, allow_empty=True)
    return dict(obj)


# --- station import (hub import-stations) ----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StationImport:
    station_id: str
    agency_code: str
    name: str
    kind: str
    address: str
    token_sha256: str
    token_expires_at_ms: int
    partition_index: int | None


def parse_station_line(obj: Any) -> StationImport:
    o = _object(obj, "$", required=("station_id", "agency_code", "token_sha256", "token_expires_at"),
                optional=("name", "kind", "address", "partition_index"))
    kind = o.get("kind", "branch")
    if kind not in STATION_KINDS:
        raise ProtocolError("kind", f"must be one of {', '.join(STATION_KINDS)}")
    part = o.get("partition_index")
    return StationImport(
        station_id=station_id(o["station_id"]),
        agency_code=agency_code(o["agency_code"]),
        name=_str(o.get("name", ""), "name", max_len=200, allow_empty=True),
        kind=kind,
        address=_str(o.get("address", ""), "address", max_len=500, allow_empty=True),
        token_sha256=sha256(o["token_sha256"], "token_sha256"),
        token_expires_at_ms=rfc3339_to_ms(o["token_expires_at"], "token_expires_at"),
        partition_index=None if part is None else _int(part, "partition_index", maximum=MAX_NUMBER - 1),
    )


# --- admin documents pushed onto the feed ------------------------------------------------------


def parse_catalog(obj: Any) -> dict[str, Any]:
    o = _object(obj, "$", required=("version", "procedures"), optional=("published_at", "agency_code"))
    _str(str(o["version"]) if isinstance(o["version"], int) else o["version"], "version", max_len=64)
    if not isinstance(o["procedures"], list):
        raise ProtocolError("procedures", "must be a list")
    for i, proc in enumerate(o["procedures"]):
        if not isinstance(proc, dict) or "code" not in proc or "name" not in proc:
            raise ProtocolError(f"procedures[{i}]", "must be an object with at least code and name")
        _match(proc["code"], f"procedures[{i}].code", PROCEDURE_CODE_RE, "procedure code (d.dddddd)")
    canonical_json(o)
    return o


def parse_admin_units(obj: Any) -> dict[str, Any]:
    """``{version, units: [{level, code, name, parent}]}``: the box validates the units in full."""
    o = _object(obj, "$", required=("version", "units"), optional=("published_at", "format", "description"))
    _str(str(o["version"]) if isinstance(o["version"], int) else o["version"], "version", max_len=64)
    if not isinstance(o["units"], list) or not o["units"]:
        raise ProtocolError("units", "must be a non-empty list")
    for i, unit in enumerate(o["units"]):
        if not isinstance(unit, dict) or not isinstance(unit.get("code"), str) or not isinstance(unit.get("name"), str):
            raise ProtocolError(f"units[{i}]", "must be an object with at least code and name")
    canonical_json(o)
    return o


def parse_calendar_entry(obj: Any, name: str = "$") -> dict[str, str]:
    import datetime as dt

    o = _object(obj, name, required=("date", "kind"), optional=("reason",))
    try:
        dt.date.fromisoformat(o["date"])
    except (TypeError, ValueError):
        raise ProtocolError(f"{name}.date", "must be a date YYYY-MM-DD") from None
    if o["kind"] not in CALENDAR_KINDS:
        raise ProtocolError(f"{name}.kind", f"must be one of {', '.join(CALENDAR_KINDS)}")
    return {"date": o["date"], "kind": o["kind"], "reason": _str(o.get("reason", ""), f"{name}.reason", allow_empty=True)}


def parse_clerk(obj: Any) -> dict[str, Any]:
    o = _object(obj, "$", required=("username", "display_name", "role", "password_hash", "active"))
    _match(o["username"], "username", __import__("re").compile(r"^[a-z0-9][a-z0-9._-]{1,63}$"),
           "username (lower-case letters, digits, . _ -)")
    _str(o["display_name"], "display_name", max_len=200)
    if o["role"] not in CLERK_ROLES:
        raise ProtocolError("role", f"must be one of {', '.join(CLERK_ROLES)}")
    if not isinstance(o["password_hash"], str) or not o["password_hash"].startswith("$argon2id$"):
        raise ProtocolError("password_hash", "must be an argon2id encoded hash ($argon2id$…)")
    if not isinstance(o["active"], bool):
        raise ProtocolError("active", "must be true or false")
    return o


def status_code(value: Any, name: str = "status") -> int:
    """A national status code given as 1-10 or by its English name."""
    if isinstance(value, str):
        if is_ascii_digits(value):
            value = int(value)
        else:
            by_name = {v: k for k, v in DOSSIER_STATUSES.items()}
            if value not in by_name:
                raise ProtocolError(name, f"unknown status {value!r} (1-10 or {', '.join(by_name)})")
            value = by_name[value]
    if isinstance(value, bool) or not isinstance(value, int) or value not in DOSSIER_STATUSES:
        raise ProtocolError(name, "must be a national status code 1-10")
    return value


# --- what a client checks ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedItem:
    seq: int
    type: str
    created_at: str
    data: dict[str, Any]


def parse_feed_page(body: Any) -> tuple[list[FeedItem], int, bool, int]:
    """Validate a feed answer; returns (items, next, more, head). Items strictly increase."""
    o = _object(body, "$", required=("items", "next", "more", "head"))
    items: list[FeedItem] = []
    last = -1
    for i, it in enumerate(o["items"] if isinstance(o["items"], list) else []):
        name = f"items[{i}]"
        obj = _object(it, name, required=("seq", "type", "created_at", "data"))
        seq = _int(obj["seq"], f"{name}.seq", minimum=1)
        if seq <= last:
            raise ProtocolError(f"{name}.seq", "feed items must have strictly increasing seq")
        last = seq
        if not isinstance(obj["data"], dict):
            raise ProtocolError(f"{name}.data", "must be an object")
        items.append(FeedItem(seq=seq, type=_str(obj["type"], f"{name}.type", max_len=64),
                              created_at=obj["created_at"], data=obj["data"]))
    if not isinstance(o["items"], list):
        raise ProtocolError("items", "must be a list")
    nxt = _int(o["next"], "next")
    if items and nxt < items[-1].seq:
        raise ProtocolError("next", "must not be below the seq of the last item")
    if not isinstance(o["more"], bool):
        raise ProtocolError("more", "must be true or false")
    return items, nxt, o["more"], _int(o["head"], "head")


def verify_receipt(answer: Any, public_key: bytes, *, dossier_id: str | None = None,
                   manifest_sha256: str | None = None, blobs: list[str] | None = None) -> dict[str, Any]:
    """Check a commit answer: signature by the hub's receipt key and that it matches what we sent.

    Returns the receipt object; raises SignatureError (or ProtocolError for a malformed answer).
    """
    o = _object(answer, "$", required=("receipt", "signature"))
    receipt = _object(o["receipt"], "receipt", required=(
        "type", "dossier_id", "code", "agency_code", "station_id", "manifest_sha256", "blobs",
        "hub_seq", "committed_at", "key_id"))
    if receipt["type"] != RECEIPT_TYPE:
        raise ProtocolError("receipt.type", f"must be {RECEIPT_TYPE}")
    verify_object(public_key, receipt, o["signature"])
    if dossier_id is not None and receipt["dossier_id"] != dossier_id:
        raise SignatureError("receipt is for another dossier")
    if manifest_sha256 is not None and receipt["manifest_sha256"] != manifest_sha256:
        raise SignatureError("receipt covers another manifest")
    if blobs is not None and list(receipt["blobs"]) != list(blobs):
        raise SignatureError("receipt covers other blobs")
    return receipt


def verify_command(signed: Any, public_key: bytes, *, station_id: str) -> dict[str, Any]:
    """Check a hub-signed command addressed to ``station_id``; returns the command object."""
    o = _object(signed, "$", required=("command", "signature"))
    cmd = _object(o["command"], "command", required=(
        "type", "command_id", "station_id", "kind", "args", "issued_at", "key_id"))
    if cmd["type"] != COMMAND_TYPE:
        raise ProtocolError("command.type", f"must be {COMMAND_TYPE}")
    verify_object(public_key, cmd, o["signature"])
    if cmd["station_id"] != station_id:
        raise SignatureError("command is addressed to another station")
    return cmd
