"""The local dossier store: encrypted pages and personal data, and the audit log.

The store knows nothing of the outbox (``edge.outbox`` owns that table): the steps that must
commit together with a finalize or a shred are given by the caller (``then=``), or registered
once by the package that owns them (``registry.add_store_step`` in its ``_extension``).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge._registry import REGISTRY
from edge.config import Settings
from edge.errors import IntegrityError, NotFoundError, StoreError, ValidationError

from . import _audit, _codes
from ._blobs import BlobStore
from ._clock import VN_TZ, Clock
from ._crypto import (
    CityPrivateKey,
    CityPublicKey,
    blind_index,
    choose_cipher,
    encrypt_stream,
    new_key,
    open_bytes,
    seal_bytes,
    seal_to_city,
)
from ._db import Database
from ._fsutil import fsync_dir, write_file_atomic
from ._keys import KeyRing, create_kek, load_kek
from ._migrations import SCHEMA_MIN_VERSION, apply_all, refuse_newer_schema
from ._model import Applicant, PageInfo, fold_name
from ._reads import DossierReads

logger = logging.getLogger(__name__)

DB_NAME = "motcua.db"
CITY_KEY_FILE = "city.pub.json"
#: Present while a shred (or wipe) has committed but the WAL may still hold page images of the
#: shredded rows (another connection held a read snapshot): the next checkpoint or start completes it.
SHRED_PENDING_FILE = "shred-pending-checkpoint"
#: Trust anchors from provisioning (meta keys): an enrollment answer must carry the same.
ANCHOR_CITY_KEY = "anchor.city_key"
ANCHOR_RECEIPT_KEY = "anchor.hub_receipt_key"


T = TypeVar("T")
#: A step committed in the same transaction as a finalize: ``step(conn, dossier_id)``.
FinalizeStep = Callable[[Any, str], None]
#: A step committed in the same transaction as a shred: ``step(conn, dossier_id, forced=...)``.
ShredStep = Callable[..., None]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
_PROC_RE = re.compile(r"^[0-9A-Za-z.\-_]{1,64}$")
_MEDIA = {"image/png", "image/jpeg", "image/tiff", "application/pdf", "application/octet-stream"}


@dataclass(frozen=True, slots=True, kw_only=True)
class InitResult:
    state_dir: Path
    city_key_fingerprint: str
    demo_city_private_key: Path | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartupReport:
    """What start-up found left half-done by an interrupted run, and cleaned."""

    tmp_files_removed: int = 0
    orphan_blobs_removed: int = 0
    migrations_applied: tuple[str, ...] = ()
    shred_checkpoint_completed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PageSource:
    """A page to ingest: bytes, a binary file, or an iterable of chunks."""

    source: bytes | BinaryIO | Iterable[bytes]
    component: str = ""
    media_type: str = "application/octet-stream"


@dataclass(kw_only=True)
class CheckReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dossiers: int = 0
    pages: int = 0
    audit_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _now_iso(clock: Clock) -> str:
    return clock.now().isoformat(timespec="seconds")


def _as_dt(value: dt.datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=VN_TZ)
    return value.isoformat(timespec="seconds")


def _check_state_dir(root: Path) -> None:
    if not root.exists():
        raise StoreError(f"state directory {root} does not exist; create it with 'motcua --state-dir {root} init --agency CODE'",
                         message_vi="Thư mục dữ liệu chưa được khởi tạo.")
    if not (root / DB_NAME).exists():
        raise StoreError(f"state directory {root} is not initialized; run 'motcua --state-dir {root} init --agency CODE'",
                         message_vi="Thư mục dữ liệu chưa được khởi tạo.")


class Store(DossierReads):
    """Open with :meth:`Store.open`; every method is thread-safe."""

    #: How long a shred waits for other connections' read snapshots to end before it reports the
    #: WAL checkpoint pending (the store stays usable meanwhile: attempts are short).
    checkpoint_wait_seconds: float = 5.0

    def __init__(self, *, settings: Settings, root: Path, database: Database, keys: KeyRing,
                 city_key: CityPublicKey, lock_fd: int, report: StartupReport) -> None:
        self.settings = settings
        self.root = root
        self._database = database
        self._keys = keys
        self.city_key = city_key
        self.blobs = BlobStore(root)
        self.cipher = choose_cipher(settings.store.cipher)
        self.clock = Clock(self.meta_get, self._meta_set_tx)
        self._lock_fd = lock_fd
        self.startup_report = report

    # --- life cycle ---------------------------------------------------------------------------

    @classmethod
    def init(cls, settings: Settings, *, agency_code: str, city_public_key: bytes | None = None,
             passphrase: str | None = None, demo_key_out: Path | None = None,
             hub_receipt_key: str | None = None) -> InitResult:
        """Create a new state directory: keys, database, city public key.

        A city key given here (from the signed provisioning bundle or ``--city-key``) and a hub
        receipt key (base64 of its raw 32 bytes, from the bundle) are this box's trust anchors:
        kept in ``meta`` (``anchor.*``), and an enrollment answer that differs is refused.
        """
        root = Path(settings.store.state_dir)
        _codes.validate_agency_code(agency_code)
        _codes.validate_partition(settings.station.code_partition_index, settings.station.code_partition_size)
        if (root / DB_NAME).exists():
            raise StoreError(f"state directory {root} is already initialized")
        if city_public_key is not None:
            try:
                city = CityPublicKey.from_json(json.loads(city_public_key))
            except (ValueError, UnicodeDecodeError) as exc:
                raise StoreError(f"city key file is not JSON: {exc}") from None
            demo_path = None
        else:
            private = CityPrivateKey.generate(settings.store.hpke_kem)
            city = private.public()
            demo_path = demo_key_out or root.parent / f"{root.name}-demo-city.key.json"
            demo_path.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomic(demo_path, json.dumps(private.to_json(), indent=1).encode(), mode=0o600)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        keys_dir = root / "keys"
        kek = create_kek(keys_dir, settings.store.key_provider, passphrase)
        write_file_atomic(keys_dir / CITY_KEY_FILE, json.dumps(city.to_json(), indent=1).encode(), mode=0o644)
        BlobStore(root).ensure()
        database = Database(root / DB_NAME)
        try:
            apply_all(database.db)
            ring = KeyRing.from_kek(kek)
            with database.transaction() as conn:
                for key, value in {
                    "agency_code": agency_code,
                    "station_id": settings.station.station_id or f"st-{uuid.uuid4().hex[:12]}",
                    "code_partition_index": str(settings.station.code_partition_index),
                    "code_partition_size": str(settings.station.code_partition_size),
                    "kek_check": base64.b64encode(ring.check_value()).decode(),
                    "key_provider": settings.store.key_provider,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    **({ANCHOR_CITY_KEY: _canonical(city.to_json())} if city_public_key is not None else {}),
                    **({ANCHOR_RECEIPT_KEY: hub_receipt_key.strip()} if hub_receipt_key else {}),
                }.items():
                    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, value))
                _audit.append(conn, at=dt.datetime.now(VN_TZ).isoformat(timespec="seconds"), actor="system",
                              action="store.init", dossier_id=None,
                              details={"agency_code": agency_code, "city_key": city.fingerprint()})
        finally:
            database.close()
        return InitResult(state_dir=root, city_key_fingerprint=city.fingerprint(), demo_city_private_key=demo_path)

    @classmethod
    def open(cls, settings: Settings, *, passphrase: str | None = None) -> Store:
        root = Path(settings.store.state_dir)
        _check_state_dir(root)
        lock_fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Exclusive only if nobody else has the store open: then half-done work can be swept.
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                sole = True
            except BlockingIOError:
                fcntl.flock(lock_fd, fcntl.LOCK_SH)
                sole = False
            provider = settings.store.key_provider
            database = Database(root / DB_NAME)
            row = database.one("SELECT value FROM meta WHERE key = 'key_provider'")
            if row:
                provider = row["value"]
            ring = KeyRing.from_kek(load_kek(root / "keys", provider, passphrase))
            check = database.one("SELECT value FROM meta WHERE key = 'kek_check'")
            if not check or not ring.verify(base64.b64decode(check["value"])):
                database.close()
                raise IntegrityError("the station key does not match this store (wrong key file or damaged store)",
                                     message_vi="Khóa thiết bị không khớp với kho dữ liệu.")
            try:
                city = CityPublicKey.from_json(json.loads((root / "keys" / CITY_KEY_FILE).read_text()))
            except (OSError, ValueError) as exc:
                database.close()
                raise StoreError(f"city public key is missing or damaged: {exc}") from None
            floor = database.one("SELECT value FROM meta WHERE key = ?", (SCHEMA_MIN_VERSION,))
            try:
                refuse_newer_schema(floor["value"] if floor else None)
            except StoreError:
                database.close()
                raise
            applied = tuple(apply_all(database.db)) if sole else ()
            blobs = BlobStore(root)
            blobs.ensure()
            tmp_removed = orphans = 0
            if sole:
                tmp_removed = blobs.clear_tmp()
                referenced = {r["blob"] for r in database.query("SELECT blob FROM pages")}
                stray = [n for n in blobs.all_names() if n not in referenced]
                blobs.delete(stray)
                orphans = len(stray)
                if tmp_removed or orphans:
                    logger.warning("start-up cleaned an interrupted write: %s temporary file(s), %s unreferenced blob(s)",
                                   tmp_removed, orphans)
                fcntl.flock(lock_fd, fcntl.LOCK_SH)
            report = StartupReport(tmp_files_removed=tmp_removed, orphan_blobs_removed=orphans, migrations_applied=applied)
        except BaseException:
            os.close(lock_fd)
            raise
        store = cls(settings=settings, root=root, database=database, keys=ring, city_key=city, lock_fd=lock_fd, report=report)
        if store.shred_checkpoint_pending():
            done = store.checkpoint()
            store.startup_report = dataclasses.replace(report, shred_checkpoint_completed=done)
        return store

    def close(self) -> None:
        self._database.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- generic ------------------------------------------------------------------------------

    @staticmethod
    def _steps(kind: str, then: Callable[..., None] | None) -> list[Callable[..., None]]:
        if then is not None:
            return [then]
        steps = list(REGISTRY.store_steps[kind])  # registered once, by the outbox's _extension
        if kind == "finalize" and not steps:
            raise StoreError("no outbox step is registered: a finalized dossier would never be sent; "
                             "finalize through edge.outbox (finalize_and_enqueue / ingest_and_enqueue)",
                             message_vi="Lỗi cấu hình: hàng đợi gửi hồ sơ chưa được nạp.")
        return steps

    def write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction on the store's single writer
        thread and return its result; blocks the calling thread (never call it from the event
        loop: use :meth:`awrite`). Inside a write it runs inline, as a savepoint."""
        return self._database.write(fn)

    def awrite(self, fn: Callable[[Any], T]) -> Awaitable[T]:
        """:meth:`write` awaited from the event loop: the loop goes on while the writer works."""
        return self._database.awrite(fn)

    def in_write(self) -> bool:
        """Whether the calling thread is inside a write now."""
        return self._database.in_write()

    def _transaction(self):
        """The store's own methods' write block (private: callers outside ``edge.store`` use
        :meth:`write` / :meth:`awrite`): the calling thread leases the single writer for the block
        (``BEGIN IMMEDIATE``; nested, a savepoint)."""
        return self._database.transaction()

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        """A read on this thread's own read connection (inside a write: the write's connection)."""
        return self._database.query(sql, params)

    def meta_get(self, key: str) -> str | None:
        row = self._database.one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def _meta_set_tx(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         (key, value))

    meta_set = _meta_set_tx

    @property
    def agency_code(self) -> str:
        return self.meta_get("agency_code") or self.settings.station.agency_code

    @property
    def station_id(self) -> str:
        return self.meta_get("station_id") or ""

    def now(self) -> dt.datetime:
        return self.clock.now()

    def blind_index(self, kind: str, value: str) -> str:
        return blind_index(self._keys.index, kind, value)

    def _audit_entry(self, action: str, *, actor: str, dossier_id: str | None,
                     details: dict[str, Any] | None) -> Callable[[Any], int]:
        return lambda conn: _audit.append(conn, at=_now_iso(self.clock), actor=actor, action=action,
                                          dossier_id=dossier_id, details=details or {})

    def audit(self, action: str, *, actor: str, dossier_id: str | None = None, details: dict[str, Any] | None = None) -> int:
        """Append to the hash-chained audit log. ``details`` must never hold personal data.

        Blocks the calling thread on the write; the event loop awaits :meth:`aaudit`."""
        return self.write(self._audit_entry(action, actor=actor, dossier_id=dossier_id, details=details))

    async def aaudit(self, action: str, *, actor: str, dossier_id: str | None = None,
                     details: dict[str, Any] | None = None) -> int:
        """:meth:`audit` awaited from the event loop (the append runs on the writer thread)."""
        return await self.awrite(self._audit_entry(action, actor=actor, dossier_id=dossier_id, details=details))

    def anchors(self) -> dict[str, Any]:
        """The provisioned trust anchors: ``city_key`` (a CityPublicKey) and ``hub_receipt_key``
        (base64 text), each present only if the box was provisioned with it."""
        out: dict[str, Any] = {}
        if text := self.meta_get(ANCHOR_CITY_KEY):
            out["city_key"] = CityPublicKey.from_json(json.loads(text))
        if text := self.meta_get(ANCHOR_RECEIPT_KEY):
            out["hub_receipt_key"] = text
        return out

    def set_city_key(self, city: CityPublicKey) -> None:
        write_file_atomic(self.root / "keys" / CITY_KEY_FILE, json.dumps(city.to_json(), indent=1).encode(), mode=0o644)
        self.city_key = city

    def reseal_pending_to_city(self, city: CityPublicKey, *, actor: str, states: Iterable[str]) -> int:
        """Seal again, to ``city``, every finalized dossier whose outbox is in one of ``states``.

        A box initialized with a provisional city key (``motcua init`` without ``--city-key``) may
        take dossiers before it enrolls; enrollment brings the real city key, and the local key
        wraps let the box re-seal those data keys so the city can open them. Idempotent. Whoever
        keeps a copy of the old seal (the sync client's frozen manifests) drops it in the same
        transaction.
        """
        states = tuple(states)
        count = 0
        with self._transaction() as conn:
            rows = conn.execute(
                f"""SELECT d.id, d.local_wrap FROM dossiers d JOIN outbox o ON o.dossier_id = d.id
                   WHERE o.state IN ({",".join("?" * len(states))}) AND d.local_wrap IS NOT NULL
                   AND d.city_seal IS NOT NULL""", states).fetchall()
            for dossier_id, wrap in rows:
                dek = open_bytes(self._keys.wrap, wrap, b"dek|" + dossier_id.encode())
                conn.execute("UPDATE dossiers SET city_seal = ?, city_kem = ? WHERE id = ?",
                             (seal_to_city(city, dek, dossier_id), city.kem, dossier_id))
                count += 1
            if count:
                _audit.append(conn, at=_now_iso(self.clock), actor=actor, action="store.reseal_city",
                              dossier_id=None, details={"dossiers": count, "city_key": city.fingerprint()})
        return count

    def _sealed_meta_key(self, name: str) -> Ed25519PrivateKey | None:
        sealed = self.meta_get(name)
        if not sealed:
            return None
        raw = open_bytes(self._keys.wrap, base64.b64decode(sealed), name.encode())
        return Ed25519PrivateKey.from_private_bytes(raw)

    def _set_sealed_meta_key(self, name: str, key: Ed25519PrivateKey | None) -> None:
        value = "" if key is None else base64.b64encode(
            seal_bytes(self._keys.wrap, key.private_bytes_raw(), name.encode())).decode()
        self.meta_set(name, value)

    def station_signing_key(self) -> Ed25519PrivateKey:
        """The station's Ed25519 identity, created on first use, kept wrapped by the station key."""
        key = self._sealed_meta_key("station.signing_key")
        if key is None:
            key = Ed25519PrivateKey.generate()
            self.set_station_signing_key(key)
        return key

    def set_station_signing_key(self, key: Ed25519PrivateKey) -> None:
        self._set_sealed_meta_key("station.signing_key", key)

    def pending_signing_key(self) -> Ed25519PrivateKey | None:
        """A next station key made for a rotation the hub has not confirmed yet (wrapped likewise)."""
        return self._sealed_meta_key("station.signing_key.pending")

    def set_pending_signing_key(self, key: Ed25519PrivateKey | None) -> None:
        self._set_sealed_meta_key("station.signing_key.pending", key)

    # --- dossier keys and sealed fields -------------------------------------------------------

    def _dek(self, dossier_id: str, row: dict | None = None) -> bytes:
        row = row or self._database.one("SELECT local_wrap, status FROM dossiers WHERE id = ?", (dossier_id,))
        if row is None:
            raise NotFoundError(f"dossier {dossier_id} does not exist", message_vi="Không tìm thấy hồ sơ.")
        if row["local_wrap"] is None:
            raise StoreError(f"dossier {dossier_id} has been shredded on this box: its contents are no longer readable here",
                             message_vi="Hồ sơ đã được xóa an toàn khỏi thiết bị sau khi thành phố xác nhận.")
        return open_bytes(self._keys.wrap, row["local_wrap"], b"dek|" + dossier_id.encode())

    def seal(self, dossier_id: str, plaintext: bytes, purpose: str) -> bytes:
        return seal_bytes(self._dek(dossier_id), plaintext, f"{purpose}|{dossier_id}".encode(), cipher=self.cipher)

    def unseal(self, dossier_id: str, sealed: bytes, purpose: str) -> bytes:
        return open_bytes(self._dek(dossier_id), sealed, f"{purpose}|{dossier_id}".encode())

    # --- writing dossiers ---------------------------------------------------------------------

    def _insert_dossier(self, conn, *, dossier_id: str, dek: bytes, procedure_code: str, applicant: Applicant,
                        form: dict[str, Any], actor: str, documents: Iterable[dict[str, Any]] = ()) -> None:
        now = _now_iso(self.clock)
        aid = dossier_id.encode()
        conn.execute(
            """INSERT INTO dossiers(id, procedure_code, status, created_at, updated_at, counter, hlc, clock_anchored,
                   cipher, local_wrap, sealed_applicant, sealed_form, id_hash, meta)
               VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')""",
            (dossier_id, procedure_code, now, now, self.clock.next_counter(), self.clock.next_hlc(),
             int(self.clock.anchored), self.cipher,
             seal_bytes(self._keys.wrap, dek, b"dek|" + aid),
             seal_bytes(dek, json.dumps(applicant.to_dict(), ensure_ascii=False).encode(), b"applicant|" + aid, cipher=self.cipher),
             seal_bytes(dek, json.dumps(form, ensure_ascii=False).encode(), b"form|" + aid, cipher=self.cipher),
             self.blind_index("id_number", applicant.id_number)),
        )
        self._index_name(conn, dossier_id, applicant.full_name)
        for doc in documents:
            conn.execute("INSERT INTO documents(dossier_id, component, name, kind, count, provided) VALUES (?,?,?,?,?,?)",
                         (dossier_id, str(doc["component"]), str(doc.get("name", doc["component"])),
                          str(doc.get("kind", "photocopy")), int(doc.get("count", 1)), int(bool(doc.get("provided", False)))))
        _audit.append(conn, at=now, actor=actor, action="dossier.create", dossier_id=dossier_id,
                      details={"procedure_code": procedure_code})

    def _index_name(self, conn, dossier_id: str, full_name: str) -> None:
        conn.execute("DELETE FROM name_index WHERE dossier_id = ?", (dossier_id,))
        for token in set(fold_name(full_name)):
            conn.execute("INSERT OR IGNORE INTO name_index(token, dossier_id) VALUES (?, ?)",
                         (self.blind_index("name", token), dossier_id))

    @staticmethod
    def _validate_procedure(procedure_code: str) -> str:
        if not isinstance(procedure_code, str) or not _PROC_RE.match(procedure_code):
            raise ValidationError("procedure_code", f"{procedure_code!r} is not a procedure code",
                                  message_vi="Mã thủ tục không hợp lệ.")
        return procedure_code

    def create_draft(self, *, procedure_code: str, applicant: Applicant | dict, form: dict[str, Any] | None = None,
                     actor: str, documents: Iterable[dict[str, Any]] = ()) -> str:
        """Start a dossier in state ``draft``; returns its id."""
        self._validate_procedure(procedure_code)
        if not isinstance(applicant, Applicant):
            applicant = Applicant.from_dict(applicant, today=self.clock.now().date())
        dossier_id = str(uuid.uuid4())
        with self._transaction() as conn:
            self._insert_dossier(conn, dossier_id=dossier_id, dek=new_key(), procedure_code=procedure_code,
                                 applicant=applicant, form=form or {}, actor=actor, documents=documents)
        return dossier_id

    def _require_draft(self, dossier_id: str) -> dict:
        row = self._database.one("SELECT * FROM dossiers WHERE id = ?", (dossier_id,))
        if row is None:
            raise NotFoundError(f"dossier {dossier_id} does not exist", message_vi="Không tìm thấy hồ sơ.")
        if row["status"] != "draft":
            raise StoreError(f"dossier {dossier_id} is {row['status']}: only a draft can be changed",
                             message_vi="Hồ sơ đã hoàn tất tiếp nhận, không thể sửa.")
        return row

    def update_draft(self, dossier_id: str, *, actor: str, applicant: Applicant | dict | None = None,
                     form: dict[str, Any] | None = None, procedure_code: str | None = None,
                     documents: Iterable[dict[str, Any]] | None = None) -> None:
        if applicant is not None and not isinstance(applicant, Applicant):
            applicant = Applicant.from_dict(applicant, today=self.clock.now().date())
        if procedure_code is not None:
            self._validate_procedure(procedure_code)
        with self._transaction() as conn:
            row = self._require_draft(dossier_id)
            dek = self._dek(dossier_id, row)
            aid = dossier_id.encode()
            if applicant is not None:
                conn.execute("UPDATE dossiers SET sealed_applicant = ?, id_hash = ? WHERE id = ?",
                             (seal_bytes(dek, json.dumps(applicant.to_dict(), ensure_ascii=False).encode(), b"applicant|" + aid, cipher=self.cipher),
                              self.blind_index("id_number", applicant.id_number), dossier_id))
                self._index_name(conn, dossier_id, applicant.full_name)
            if form is not None:
                conn.execute("UPDATE dossiers SET sealed_form = ? WHERE id = ?",
                             (seal_bytes(dek, json.dumps(form, ensure_ascii=False).encode(), b"form|" + aid, cipher=self.cipher), dossier_id))
            if procedure_code is not None:
                conn.execute("UPDATE dossiers SET procedure_code = ? WHERE id = ?", (procedure_code, dossier_id))
            if documents is not None:
                conn.execute("DELETE FROM documents WHERE dossier_id = ?", (dossier_id,))
                for doc in documents:
                    conn.execute("INSERT INTO documents(dossier_id, component, name, kind, count, provided) VALUES (?,?,?,?,?,?)",
                                 (dossier_id, str(doc["component"]), str(doc.get("name", doc["component"])),
                                  str(doc.get("kind", "photocopy")), int(doc.get("count", 1)), int(bool(doc.get("provided", False)))))
            conn.execute("UPDATE dossiers SET updated_at = ? WHERE id = ?", (_now_iso(self.clock), dossier_id))
            _audit.append(conn, at=_now_iso(self.clock), actor=actor, action="dossier.update", dossier_id=dossier_id,
                          details={"fields": [n for n, v in (("applicant", applicant), ("form", form),
                                                             ("procedure_code", procedure_code), ("documents", documents)) if v is not None]})

    def _write_page_blob(self, dossier_id: str, dek: bytes, source: bytes | BinaryIO | Iterable[bytes], *,
                         durable: bool = True) -> tuple[str, int, int]:
        limit = self.settings.store.max_page_mb * 1024 * 1024
        counted = {"n": 0}

        def counting(chunks: Iterable[bytes]) -> Iterator[bytes]:
            for chunk in chunks:
                counted["n"] += len(chunk)
                if counted["n"] > limit:
                    raise ValidationError("page", f"page is larger than {self.settings.store.max_page_mb} MB",
                                          message_vi=f"Trang tài liệu vượt quá {self.settings.store.max_page_mb} MB.")
                yield chunk

        from ._crypto import _rechunk  # the same segmentation the cipher uses
        plain = counting(_rechunk(source, 1 << 16))
        written = self.blobs.write(encrypt_stream(dek, dossier_id, plain, cipher=self.cipher), durable=durable)
        return written.name, written.size, counted["n"]

    def _insert_page(self, conn, *, dossier_id: str, blob: str, size: int, plain_size: int, component: str,
                     media_type: str, actor: str) -> PageInfo:
        idx = conn.execute("SELECT COALESCE(MAX(idx), 0) + 1 FROM pages WHERE dossier_id = ?", (dossier_id,)).fetchone()[0]
        conn.execute("INSERT INTO pages(dossier_id, idx, component, media_type, blob, size, plain_size, created_at) VALUES (?,?,?,?,?,?,?,?)",
                     (dossier_id, idx, component, media_type, blob, size, plain_size, _now_iso(self.clock)))
        if component:
            conn.execute("UPDATE documents SET provided = 1 WHERE dossier_id = ? AND component = ?", (dossier_id, component))
        _audit.append(conn, at=_now_iso(self.clock), actor=actor, action="page.add", dossier_id=dossier_id,
                      details={"index": idx, "component": component, "media_type": media_type, "size": plain_size})
        return PageInfo(index=idx, component=component, media_type=media_type, blob=blob, size=size, plain_size=plain_size)

    @staticmethod
    def _validate_media(media_type: str, component: str) -> None:
        if media_type not in _MEDIA:
            raise ValidationError("media_type", f"{media_type!r} is not accepted (allowed: {', '.join(sorted(_MEDIA))})",
                                  message_vi="Chỉ nhận tệp ảnh (PNG, JPEG, TIFF) hoặc PDF.")
        if not isinstance(component, str) or len(component) > 64:
            raise ValidationError("component", "must be a short string", message_vi="Mã thành phần hồ sơ không hợp lệ.")

    def add_page(self, dossier_id: str, source: bytes | BinaryIO | Iterable[bytes], *, component: str = "",
                 media_type: str = "application/octet-stream", actor: str) -> PageInfo:
        """Encrypt and store one page of a draft (streamed; the plaintext never touches disk)."""
        self._validate_media(media_type, component)
        row = self._require_draft(dossier_id)
        blob, size, plain_size = self._write_page_blob(dossier_id, self._dek(dossier_id, row), source)
        try:
            with self._transaction() as conn:
                self._require_draft(dossier_id)
                return self._insert_page(conn, dossier_id=dossier_id, blob=blob, size=size, plain_size=plain_size,
                                         component=component, media_type=media_type, actor=actor)
        except BaseException:
            self.blobs.delete([blob])
            raise

    def remove_page(self, dossier_id: str, index: int, *, actor: str) -> None:
        with self._transaction() as conn:
            self._require_draft(dossier_id)
            row = conn.execute("SELECT blob FROM pages WHERE dossier_id = ? AND idx = ?", (dossier_id, index)).fetchone()
            if row is None:
                raise NotFoundError(f"dossier {dossier_id} has no page {index}", message_vi="Không tìm thấy trang.")
            conn.execute("DELETE FROM pages WHERE dossier_id = ? AND idx = ?", (dossier_id, index))
            _audit.append(conn, at=_now_iso(self.clock), actor=actor, action="page.remove", dossier_id=dossier_id,
                          details={"index": index})
        self.blobs.delete([row[0]])

    def _finalize(self, conn, dossier_id: str, dek: bytes, *, actor: str, received_at: dt.datetime | None,
                  due_at: dt.datetime | str | None, meta: dict[str, Any] | None,
                  then: FinalizeStep | None = None) -> str:
        received = _as_dt(received_at) or _now_iso(self.clock)
        day = dt.datetime.fromisoformat(received).astimezone(VN_TZ).date()
        if self.meta_get("code_partition_retired"):
            raise StoreError("this box was replaced by another box of its station: it issues no more dossier codes",
                             message_vi="Thiết bị này đã được thay thế; hãy tiếp nhận hồ sơ trên thiết bị mới.")
        index = int(self.meta_get("code_partition_index") or self.settings.station.code_partition_index)
        size = int(self.meta_get("code_partition_size") or self.settings.station.code_partition_size)
        code = _codes.allocate(conn, agency=self.agency_code, day=day, index=index, size=size)
        old_meta = json.loads(conn.execute("SELECT meta FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()[0])
        old_meta.update(meta or {})
        now = _now_iso(self.clock)
        conn.execute(
            """UPDATE dossiers SET status = 'finalized', code = ?, finalized_at = ?, received_at = ?, due_at = ?,
                   city_seal = ?, city_kem = ?, meta = ?, updated_at = ?, hlc = ? WHERE id = ?""",
            (code, now, received, _as_dt(due_at), seal_to_city(self.city_key, dek, dossier_id), self.city_key.kem,
             json.dumps(old_meta, ensure_ascii=False), now, self.clock.next_hlc(), dossier_id))
        for step in self._steps("finalize", then):  # the outbox's enqueue, in this transaction
            step(conn, dossier_id)
        _audit.append(conn, at=now, actor=actor, action="dossier.finalize", dossier_id=dossier_id,
                      details={"code": code, "due_at": _as_dt(due_at)})
        return code

    def finalize(self, dossier_id: str, *, actor: str, received_at: dt.datetime | None = None,
                 due_at: dt.datetime | str | None = None, meta: dict[str, Any] | None = None,
                 then: FinalizeStep | None = None, conn=None) -> str:
        """Assign the dossier code, seal the data key to the city and run ``then(conn, id)`` (the
        outbox's enqueue; by default the registered finalize steps) in the same transaction.
        With ``conn`` (inside a write) it joins that transaction."""
        def run(conn) -> str:
            row = self._require_draft(dossier_id)
            return self._finalize(conn, dossier_id, self._dek(dossier_id, row), actor=actor, received_at=received_at,
                                  due_at=due_at, meta=meta, then=then)

        return run(conn) if conn is not None else self.write(run)

    def ingest(self, *, procedure_code: str, applicant: Applicant | dict, pages: Iterable[PageSource], actor: str,
               form: dict[str, Any] | None = None, received_at: dt.datetime | None = None,
               due_at: dt.datetime | str | None = None, meta: dict[str, Any] | None = None,
               documents: Iterable[dict[str, Any]] = (), then: FinalizeStep | None = None) -> tuple[str, str]:
        """Create, fill and finalize a dossier in one transaction; returns (id, code).

        Page blobs are written durably first; the rows that reference them, the finalize steps
        (``then``: the outbox row) and the audit rows then commit together, so a crash leaves
        either a whole dossier or none.
        """
        self._validate_procedure(procedure_code)
        if not isinstance(applicant, Applicant):
            applicant = Applicant.from_dict(applicant, today=self.clock.now().date())
        dossier_id = str(uuid.uuid4())
        dek = new_key()
        written: list[tuple[str, int, int, PageSource]] = []
        try:
            for page in pages:
                self._validate_media(page.media_type, page.component)
                blob, size, plain = self._write_page_blob(dossier_id, dek, page.source, durable=False)
                written.append((blob, size, plain, page))
            self.blobs.sync(w[0] for w in written)  # all the pages durable at once, before their rows
            def rows(conn) -> str:
                self._insert_dossier(conn, dossier_id=dossier_id, dek=dek, procedure_code=procedure_code,
                                     applicant=applicant, form=form or {}, actor=actor, documents=documents)
                for blob, size, plain, page in written:
                    self._insert_page(conn, dossier_id=dossier_id, blob=blob, size=size, plain_size=plain,
                                      component=page.component, media_type=page.media_type, actor=actor)
                return self._finalize(conn, dossier_id, dek, actor=actor, received_at=received_at, due_at=due_at,
                                      meta=meta, then=then)

            code = self.write(rows)
        except BaseException:
            self.blobs.delete([w[0] for w in written], best_effort=True)
            raise
        return dossier_id, code

    def set_meta(self, dossier_id: str, *, actor: str, **values: Any) -> None:
        """Merge non-personal values into the dossier's metadata (fees, rating, flags)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT meta FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"dossier {dossier_id} does not exist", message_vi="Không tìm thấy hồ sơ.")
            meta = json.loads(row[0])
            meta.update(values)
            conn.execute("UPDATE dossiers SET meta = ?, updated_at = ? WHERE id = ?",
                         (json.dumps(meta, ensure_ascii=False), _now_iso(self.clock), dossier_id))
            _audit.append(conn, at=_now_iso(self.clock), actor=actor, action="dossier.meta", dossier_id=dossier_id,
                          details={"keys": sorted(values)})

    def set_city_status(self, dossier_id: str, status: str, *, actor: str = "sync", conn=None) -> None:
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self._transaction())
            conn.execute("UPDATE dossiers SET city_status = ?, updated_at = ? WHERE id = ?", (status, _now_iso(self.clock), dossier_id))
            _audit.append(conn, at=_now_iso(self.clock), actor=actor, action="dossier.city_status", dossier_id=dossier_id,
                          details={"status": status})

    def mark_handed_over(self, dossier_id: str, *, actor: str) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT status FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"dossier {dossier_id} does not exist", message_vi="Không tìm thấy hồ sơ.")
            if row[0] != "finalized":
                raise StoreError(f"dossier is {row[0]}: only a finalized dossier can be handed over",
                                 message_vi="Chỉ trả kết quả cho hồ sơ đã tiếp nhận.")
            conn.execute("UPDATE dossiers SET status = 'handed_over', updated_at = ? WHERE id = ?", (_now_iso(self.clock), dossier_id))
            _audit.append(conn, at=_now_iso(self.clock), actor=actor, action="dossier.hand_over", dossier_id=dossier_id, details={})

    # --- shredding ----------------------------------------------------------------------------

    def shred(self, dossier_id: str, *, actor: str, reason: str, force: bool = False, checkpoint: bool = True,
              then: ShredStep | None = None) -> bool:
        """Crypto-shred a dossier on this box: destroy its local key wrap, sealed fields and blobs.

        Refused unless the city's receipt for it was verified (``outbox.receipt_verified``) or it is
        a draft that never left the box, except with ``force`` (a wipe ordered by the city).

        The shred is finished only when the WAL holds no page image of the shredded rows: returns
        True then, False when another connection's read snapshot kept the WAL (the shred is then
        pending, see :meth:`shred_checkpoint_pending`). ``checkpoint=False`` (a wipe of many
        dossiers) leaves it pending for one :meth:`checkpoint` at the end.

        ``then(conn, dossier_id, forced=force)`` (by default the registered shred steps: the
        outbox's, checked against its transitions) commits in the same transaction.
        """
        self._mark_shred_pending()  # before the commit: a crash after it still leaves the mark
        with self._transaction() as conn:
            row = conn.execute("SELECT d.status, o.receipt_verified FROM dossiers d LEFT JOIN outbox o ON o.dossier_id = d.id WHERE d.id = ?",
                               (dossier_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"dossier {dossier_id} does not exist", message_vi="Không tìm thấy hồ sơ.")
            status, verified = row
            if status == "shredded":
                blobs = None
            else:
                if not force and status != "draft" and not verified:
                    raise StoreError(f"dossier {dossier_id} has no verified city receipt: refusing to shred it",
                                     message_vi="Hồ sơ chưa được thành phố xác nhận, không thể xóa.")
                blobs = [r[0] for r in conn.execute("SELECT blob FROM pages WHERE dossier_id = ?", (dossier_id,))]
                now = _now_iso(self.clock)
                conn.execute(
                    """UPDATE dossiers SET status = 'shredded', local_wrap = NULL, city_seal = NULL, sealed_applicant = NULL,
                           sealed_form = NULL, id_hash = NULL, shredded_at = ?, shred_reason = ?, updated_at = ?,
                           meta = json_set(meta, '$.shredded_pages', ?) WHERE id = ?""",
                    (now, reason, now, len(blobs), dossier_id))
                conn.execute("DELETE FROM name_index WHERE dossier_id = ?", (dossier_id,))
                conn.execute("DELETE FROM pages WHERE dossier_id = ?", (dossier_id,))
                for step in self._steps("shred", then):  # the outbox's mark, in this transaction
                    step(conn, dossier_id, forced=force)
                _audit.append(conn, at=now, actor=actor, action="dossier.shred", dossier_id=dossier_id,
                              details={"reason": reason, "pages": len(blobs), "forced": force})
        if blobs:
            self.blobs.delete(blobs)
        return self.checkpoint() if checkpoint else False

    def _mark_shred_pending(self) -> None:
        path = self.root / SHRED_PENDING_FILE
        if not path.exists():
            write_file_atomic(path, _now_iso(self.clock).encode(), mode=0o600)

    def shred_checkpoint_pending(self) -> bool:
        """Whether a shred still waits for the WAL to be emptied of the shredded rows."""
        return (self.root / SHRED_PENDING_FILE).exists()

    def checkpoint(self, *, wait_seconds: float | None = None) -> bool:
        """Fold the WAL into the database and truncate it (old page images leave the WAL).

        Waits (bounded) for readers in other connections; True when the WAL is empty. A pending
        shred is then complete; otherwise it stays marked pending and this is logged.
        """
        wait = self.checkpoint_wait_seconds if wait_seconds is None else wait_seconds
        if self._database.checkpoint_truncate(wait):
            with contextlib.suppress(FileNotFoundError):
                (self.root / SHRED_PENDING_FILE).unlink()
                fsync_dir(self.root)
            return True
        if self.shred_checkpoint_pending():
            logger.warning("shred pending: another connection holds a read snapshot, so the WAL still holds page "
                           "images of shredded dossiers; completed at the next checkpoint or start")
        return False


    def check(self) -> CheckReport:
        """Re-verify every blob, sealed field and the audit chain (``motcua check``)."""
        from ._check import check_store

        return check_store(self)
