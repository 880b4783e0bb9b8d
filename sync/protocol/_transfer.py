"""Sealed transfers on removable media and the relay (docs/sync-protocol.md §14).

A box that never sees a network writes its unconfirmed dossiers to a stick: exactly the
manifests and page blobs it would upload (sealed to the city as they are), each dossier vouched
for by the station's signature, and the whole transfer signed by the station key. Any enrolled
box (a *relay*) or the hub itself reads the stick; the relay forwards the dossiers on the origin
station's behalf and cannot read them. The hub's signed receipts travel back on a receipts stick.

This module holds the wire shapes and the on-stick layout, shared by the box and the hub. Reading
a stick verifies everything that can be verified without the hub's records: the transfer's
signature with the key it names, every manifest's hash and every blob's hash. The hub then checks
that key against the origin station's (§14.3).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.errors import ProtocolError, SignatureError

from ._encoding import b64d, b64e, canonical_json, sha256_hex
from ._schemas import _int, _object, _str, dossier_id, parse_manifest, sha256, station_id
from ._signing import key_id, public_key_raw, sign_object, verify_object

TRANSFER_TYPE = "motcua.transfer.v1"
VOUCHER_TYPE = "motcua.voucher.v1"
RECEIPTS_TYPE = "motcua.transfer-receipts.v1"
#: Everything the box writes lives under this directory of the stick.
STICK_DIR = "motcua-transfer"
TRANSFER_FILE = "transfer.json"
RECEIPTS_FILE = "receipts.json"
PARTIAL_PREFIX = ".partial-"
MAX_TRANSFER_DOSSIERS = 100_000
COPY_BLOCK = 1024 * 1024


# --- vouchers: the origin station's word for one dossier -------------------------------------

def make_voucher(key: Ed25519PrivateKey, *, station: str, dossier: str, manifest_sha256: str,
                 receipt_key_id: str, transfer_id: str) -> dict[str, Any]:
    """``{"voucher", "signature"}``: the station vouches that this manifest is its dossier's."""
    voucher = {"type": VOUCHER_TYPE, "station_id": station, "key_id": key_id(public_key_raw(key)),
               "dossier_id": dossier, "manifest_sha256": manifest_sha256, "receipt_key_id": receipt_key_id,
               "transfer_id": transfer_id}
    return {"voucher": voucher, "signature": sign_object(key, voucher)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Voucher:
    station_id: str
    key_id: str
    dossier_id: str
    manifest_sha256: str
    receipt_key_id: str
    transfer_id: str
    raw: dict[str, Any]
    signature: str

    def verify(self, public_key: bytes) -> None:
        """Raise SignatureError unless the origin station's key signed this voucher."""
        if key_id(public_key) != self.key_id:
            raise SignatureError("the voucher names another key")
        verify_object(public_key, self.raw, self.signature)


def parse_voucher(obj: Any, name: str = "voucher") -> Voucher:
    o = _object(obj, name, required=("voucher", "signature"))
    v = _object(o["voucher"], f"{name}.voucher", required=(
        "type", "station_id", "key_id", "dossier_id", "manifest_sha256", "receipt_key_id", "transfer_id"))
    if v["type"] != VOUCHER_TYPE:
        raise ProtocolError(f"{name}.voucher.type", f"must be {VOUCHER_TYPE}")
    return Voucher(station_id=station_id(v["station_id"], f"{name}.voucher.station_id"),
                   key_id=_hex16(v["key_id"], f"{name}.voucher.key_id"),
                   dossier_id=dossier_id(v["dossier_id"], f"{name}.voucher.dossier_id"),
                   manifest_sha256=sha256(v["manifest_sha256"], f"{name}.voucher.manifest_sha256"),
                   receipt_key_id=_hex16(v["receipt_key_id"], f"{name}.voucher.receipt_key_id"),
                   transfer_id=_hex16(v["transfer_id"], f"{name}.voucher.transfer_id", length=32),
                   raw=dict(v), signature=_str(o["signature"], f"{name}.signature", max_len=200))


def _hex16(value: Any, name: str, *, length: int = 16) -> str:
    text = _str(value, name, max_len=length)
    if len(text) != length or any(c not in "0123456789abcdef" for c in text):
        raise ProtocolError(name, f"must be {length} lowercase hex characters")
    return text


def parse_relay_put(body: Any, *, max_blob_size: int) -> tuple[Voucher, Any]:
    """``PUT /v1/relay/dossiers/{id}``: ``{"voucher": {voucher, signature}, "manifest": {...}}``."""
    o = _object(body, "$", required=("voucher", "manifest"))
    voucher = parse_voucher(o["voucher"])
    manifest = parse_manifest(o["manifest"], max_blob_size=max_blob_size)
    if manifest.sha256 != voucher.manifest_sha256:
        raise ProtocolError("manifest", "does not match the voucher's manifest_sha256")
    if manifest.dossier_id != voucher.dossier_id or manifest.station_id != voucher.station_id:
        raise ProtocolError("manifest", "names another dossier or station than its voucher")
    return voucher, manifest


# --- the transfer document ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class TransferEntry:
    index: int
    manifest: dict[str, Any]
    manifest_sha256: str
    voucher: dict[str, Any]  # {"voucher", "signature"}, as sent to the hub
    blobs: tuple[tuple[str, int], ...]  # (sha256, size)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """A transfer read from a stick, verified against the key it names (not yet against the hub)."""

    path: Path
    transfer_id: str
    station_id: str
    agency_code: str
    key_id: str
    public_key: bytes
    receipt_key_id: str
    created_at: str
    entries: tuple[TransferEntry, ...]

    def blob_path(self, sha: str) -> Path:
        return self.path / blob_rel(sha)


def blob_rel(sha: str) -> str:
    """Where a blob lives in a transfer: fanned out by its first two hex digits (a FAT directory
    holds at most 65,536 entries, and each long name takes several)."""
    return f"blobs/{sha[:2]}/{sha}"


def transfer_name(station: str, transfer_id: str) -> str:
    return f"{station}-{transfer_id}"


def build_transfer_doc(key: Ed25519PrivateKey, *, transfer_id: str, station: str, agency_code: str,
                       receipt_key_id: str, created_at: str, entries: list[dict[str, Any]]) -> bytes:
    """The signed ``transfer.json``; ``entries``: ``{file, manifest_sha256, voucher, blobs}``."""
    raw = public_key_raw(key)
    doc = {"type": TRANSFER_TYPE, "transfer_id": transfer_id, "station_id": station, "agency_code": agency_code,
           "key_id": key_id(raw), "public_key": b64e(raw), "receipt_key_id": receipt_key_id,
           "created_at": created_at, "dossiers": entries}
    return canonical_json({"transfer": doc, "signature": sign_object(key, doc)})


class TransferRefused(ProtocolError):
    """A stick that must be refused whole (tampered, half-written, for another city)."""


def read_transfer(path: Path, *, hash_blobs: bool = True) -> Transfer:
    """Read and verify one transfer directory; raises TransferRefused naming what is wrong."""
    path = Path(path)
    try:
        data = (path / TRANSFER_FILE).read_bytes()
    except OSError as exc:
        raise TransferRefused(TRANSFER_FILE, f"cannot be read ({exc.strerror or exc}): a half-written stick?") from None
    try:
        outer = json.loads(data)
    except ValueError:
        raise TransferRefused(TRANSFER_FILE, "is not JSON: the stick is damaged") from None
    try:
        o = _object(outer, "$", required=("transfer", "signature"))
        doc = _object(o["transfer"], "transfer", required=(
            "type", "transfer_id", "station_id", "agency_code", "key_id", "public_key", "receipt_key_id",
            "created_at", "dossiers"))
        if doc["type"] != TRANSFER_TYPE:
            raise ProtocolError("transfer.type", f"must be {TRANSFER_TYPE}")
        public_key = b64d(doc["public_key"], "transfer.public_key")
        if len(public_key) != 32 or key_id(public_key) != doc["key_id"]:
            raise ProtocolError("transfer.key_id", "does not match transfer.public_key")
        verify_object(public_key, doc, o["signature"])
    except (ProtocolError, SignatureError) as exc:
        raise TransferRefused(TRANSFER_FILE, f"does not verify: {exc}") from None
    station = doc["station_id"]
    dossiers = doc["dossiers"]
    if not isinstance(dossiers, list) or len(dossiers) > MAX_TRANSFER_DOSSIERS:
        raise TransferRefused("transfer.dossiers", "must be a list")
    entries = []
    for i, item in enumerate(dossiers):
        name = f"transfer.dossiers[{i}]"
        try:
            e = _object(item, name, required=("file", "manifest_sha256", "voucher", "blobs"))
            voucher = parse_voucher(e["voucher"], f"{name}.voucher")
            voucher.verify(public_key)
            file = _str(e["file"], f"{name}.file", max_len=64)
            if "/" in file or file.startswith("."):
                raise ProtocolError(f"{name}.file", "must be a plain file name")
            raw = (path / "dossiers" / file).read_bytes()
            manifest = json.loads(raw)
            parsed = parse_manifest(manifest)
        except (ProtocolError, SignatureError, OSError, ValueError) as exc:
            raise TransferRefused(name, f"does not verify: {exc}") from None
        if (parsed.sha256 != e["manifest_sha256"] or parsed.sha256 != voucher.manifest_sha256
                or parsed.station_id != station or voucher.station_id != station
                or voucher.dossier_id != parsed.dossier_id or voucher.transfer_id != doc["transfer_id"]):
            raise TransferRefused(name, "the manifest on the stick differs from the signed transfer (altered)")
        blobs = tuple((b.sha256, b.size) for b in parsed.blobs)
        if [list(b) for b in blobs] != e["blobs"]:
            raise TransferRefused(f"{name}.blobs", "differ from the manifest's (altered)")
        entries.append(TransferEntry(index=i, manifest=manifest, manifest_sha256=parsed.sha256,
                                     voucher=e["voucher"], blobs=blobs))
    transfer = Transfer(path=path, transfer_id=doc["transfer_id"], station_id=station, agency_code=doc["agency_code"],
                        key_id=doc["key_id"], public_key=public_key, receipt_key_id=doc["receipt_key_id"],
                        created_at=doc["created_at"], entries=tuple(entries))
    for entry in transfer.entries:
        for sha, size in entry.blobs:
            check_blob(transfer.blob_path(sha), sha, size, hashes=hash_blobs)
    return transfer


def check_blob(path: Path, sha: str, size: int, *, hashes: bool = True) -> None:
    """A blob file on the stick must have its manifest size and (``hashes``) its hash."""
    try:
        if not hashes:
            actual = path.stat().st_size
            if actual != size:
                raise TransferRefused(f"blobs/{sha[:12]}…", f"has {actual} bytes, not {size} (half-written)")
            return
        digest = hashlib.sha256()
        n = 0
        with open(path, "rb") as fh:
            while block := fh.read(COPY_BLOCK):
                digest.update(block)
                n += len(block)
    except OSError as exc:
        raise TransferRefused(f"blobs/{sha[:12]}…", f"cannot be read ({exc.strerror or exc})") from None
    if n != size or digest.hexdigest() != sha:
        raise TransferRefused(f"blobs/{sha[:12]}…", "does not match its hash (altered or half-written)")


# --- receipts sticks ---------------------------------------------------------------------------

def build_receipts_doc(*, receipt_key_id: str, created_at: str, receipts: list[Any]) -> bytes:
    """``receipts.json``: hub-signed commit answers; the container itself needs no signature."""
    return canonical_json({"type": RECEIPTS_TYPE, "receipt_key_id": receipt_key_id, "created_at": created_at,
                           "receipts": receipts})


def read_receipts(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(receipt_key_id, the commit answers) of a receipts directory; each is verified by its user."""
    try:
        obj = json.loads((Path(path) / RECEIPTS_FILE).read_bytes())
        o = _object(obj, "$", required=("type", "receipt_key_id", "created_at", "receipts"))
        if o["type"] != RECEIPTS_TYPE:
            raise ProtocolError("type", f"must be {RECEIPTS_TYPE}")
        if not isinstance(o["receipts"], list):
            raise ProtocolError("receipts", "must be a list")
        _int(len(o["receipts"]), "receipts", maximum=MAX_TRANSFER_DOSSIERS)
    except (OSError, ValueError, ProtocolError) as exc:
        raise TransferRefused(RECEIPTS_FILE, f"cannot be used: {exc}") from None
    return _hex16(o["receipt_key_id"], "receipt_key_id"), [r for r in o["receipts"] if isinstance(r, dict)]


# --- the stick's directory ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class StickItem:
    kind: str  # "transfer" | "receipts" | "partial"
    path: Path


def scan_stick(root: Path) -> Iterator[StickItem]:
    """What a stick holds under ``motcua-transfer/``: transfers, receipts, half-written leftovers.

    A directory is complete only once renamed from its ``.partial-`` name, after every file in it
    was written and synced; a half-written one keeps that name (or lacks its signed document).
    """
    base = Path(root) / STICK_DIR
    if not base.is_dir():
        return
    for entry in sorted(os.scandir(base), key=lambda e: e.name):
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if entry.name.startswith(PARTIAL_PREFIX):
            yield StickItem(kind="partial", path=path)
        elif (path / RECEIPTS_FILE).is_file():
            yield StickItem(kind="receipts", path=path)
        elif (path / TRANSFER_FILE).is_file():
            yield StickItem(kind="transfer", path=path)
        else:
            yield StickItem(kind="partial", path=path)


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return canonical_json(manifest)


def blob_sha(data: bytes) -> str:
    return sha256_hex(data)


class StickWriter:
    """Write one directory of a stick atomically: under a ``.partial-`` name, every file written,
    then all of it flushed to the stick at once (``sync``: one flush instead of one ``fsync`` per
    file, which a USB stick makes slow), then renamed into place and the stick's directory synced. Leftovers of an earlier, interrupted
    write are removed first; on any failure the partial directory is removed (best effort: a stick
    pulled out keeps it, and readers ignore it)."""

    def __init__(self, root: Path, name: str) -> None:
        from core.fsutil import fsync_dir

        self._fsync_dir = fsync_dir
        self.base = Path(root) / STICK_DIR
        self.base.mkdir(parents=True, exist_ok=True)
        self.final = self.base / name
        self.tmp = self.base / f"{PARTIAL_PREFIX}{name}"
        if self.final.exists():
            raise FileExistsError(f"{self.final} already exists")
        clear_partials(root)
        self.tmp.mkdir()
        self._dirs: set[Path] = {self.tmp}
        self.bytes_written = 0

    def _target(self, rel: str) -> Path:
        path = self.tmp / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        return path

    def write_file(self, rel: str, data: bytes) -> None:
        with open(self._target(rel), "wb") as fh:
            fh.write(data)
        self.bytes_written += len(data)

    def copy_file(self, rel: str, src: Path, *, sha: str, size: int) -> None:
        """Copy ``src`` (hashed while copied: a page altered on the box is not carried off)."""
        digest = hashlib.sha256()
        n = 0
        with open(src, "rb") as fin, open(self._target(rel), "wb") as fout:
            while block := fin.read(COPY_BLOCK):
                digest.update(block)
                fout.write(block)
                n += len(block)
        if n != size or digest.hexdigest() != sha:
            raise SignatureError(f"page blob {sha[:12]}… on this box does not match its name")
        self.bytes_written += n

    def commit(self) -> Path:
        os.sync()  # every file and directory entry written so far is on the stick before the rename
        os.rename(self.tmp, self.final)
        self._fsync_dir(self.base)
        return self.final

    def abort(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


def clear_partials(root: Path) -> int:
    """Remove half-written directories left on a stick by an interrupted write."""
    import shutil

    n = 0
    for item in list(scan_stick(root)):
        if item.kind == "partial":
            shutil.rmtree(item.path, ignore_errors=True)
            n += 1
    return n
