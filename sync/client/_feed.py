"""Pull: read the hub's feed and apply each batch together with its checkpoint (§7).

A batch's effects and the new ``since`` commit in ONE store transaction: a crash either keeps
both or neither, so no item is lost or applied twice. An item the box cannot use (invalid data)
is recorded and skipped, never allowed to block the feed forever.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from core.codes import MAX_NUMBER, CodeError, parse_dossier_code, partition_fits
from edge._registry import REGISTRY
from edge.errors import MotcuaError
from edge.outbox import Outbox, iso
from sync.errors import ProtocolError, SignatureError
from sync.protocol import (
    DOSSIER_ID_RE,
    DOSSIER_STATUS_VI,
    FEED_MAX_LIMIT,
    FeedItem,
    FeedType,
    parse_catalog,
    parse_feed_page,
    status_code,
    verify_command,
)

from ._transport import HubTransport

logger = logging.getLogger(__name__)

META_SINCE = "sync.feed_since"
META_PARTITION = "sync.code_partition"


@dataclass
class PullReport:
    applied: int = 0
    skipped: int = 0
    since: int = 0
    head: int = 0
    commands: list[str] = field(default_factory=list)  # command ids waiting to be obeyed
    revoked: bool = False


class FeedApplier:
    """Applies feed items inside a store transaction (``conn`` is the open connection)."""

    def __init__(self, store, *, station_id: str, receipt_key: bytes | None, now) -> None:
        self.store = store
        self.station_id = station_id
        self.receipt_key = receipt_key
        self._now = now
        self.outbox = Outbox(store, now=now)

    def apply(self, conn, item: FeedItem, report: PullReport) -> None:
        handler = {
            FeedType.DOSSIER_STATUS: self._status,
            FeedType.REVOCATION: self._revocation,
            FeedType.COMMAND: self._command,
            FeedType.CODE_PARTITION: self._partition,
        }.get(item.type) or self._registered(item.type)
        if handler is None:
            logger.info("feed item %s of unknown type %r skipped", item.seq, item.type)
            report.skipped += 1
            return
        conn.execute("SAVEPOINT feed_item")
        try:
            handler(conn, item, report)
        except (MotcuaError, ValueError, KeyError, TypeError) as exc:
            conn.execute("ROLLBACK TO feed_item")
            conn.execute("RELEASE feed_item")
            report.skipped += 1
            logger.warning("feed item %s (%s) not applied: %s", item.seq, item.type, exc)
            self.store.audit("sync.feed_item_refused", actor="sync",
                             details={"seq": item.seq, "type": item.type, "error": str(exc)[:300],
                                      "error_type": type(exc).__name__})
            return
        conn.execute("RELEASE feed_item")
        report.applied += 1

    # --- item types ----------------------------------------------------------------------------
    def _status(self, conn, item: FeedItem, report: PullReport) -> None:
        data = item.data
        dossier_id = data.get("dossier_id")
        if not isinstance(dossier_id, str) or not DOSSIER_ID_RE.match(dossier_id):
            raise ProtocolError("dossier_id", f"{dossier_id!r} is not a dossier id")
        status = data.get("status")
        if isinstance(status, str) and not status.isascii():
            raise ProtocolError("status", f"{status!r} is not a national status code (ASCII digits or a name)")
        code = status_code(status)
        if data.get("code") is not None:
            try:
                parse_dossier_code(data["code"])
            except CodeError as exc:
                raise ProtocolError("code", exc.message) from None
        for name in ("status_name", "note", "changed_at"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ProtocolError(name, f"must be a string, got {type(data[name]).__name__}")
        if conn.execute("SELECT 1 FROM dossiers WHERE id = ?", (dossier_id,)).fetchone() is None:
            raise ProtocolError("dossier_id", f"status for unknown dossier {dossier_id}")
        conn.execute(
            """INSERT INTO sync_city_status(dossier_id, code, status, status_name, note, changed_at, seq)
               VALUES (?,?,?,?,?,?,?) ON CONFLICT(dossier_id) DO UPDATE SET code = excluded.code,
               status = excluded.status, status_name = excluded.status_name, note = excluded.note,
               changed_at = excluded.changed_at, seq = excluded.seq""",
            (dossier_id, data.get("code"), str(code), str(data.get("status_name") or DOSSIER_STATUS_VI[code]),
             str(data.get("note") or "")[:2000], data.get("changed_at"), item.seq))
        self.store.set_city_status(dossier_id, str(code), actor="sync", conn=conn)
        # The city holds the dossier: a committed dossier becomes confirmed.
        self.outbox.confirm(dossier_id, conn=conn)

    def _registered(self, feed_type: str):
        """The handler a package registered for this feed type (reception: catalog and calendar,
        web: clerk accounts), run inside the item's savepoint like the applier's own."""
        registered = REGISTRY.feed_handlers.get(feed_type)
        if registered is not None:
            return lambda conn, item, report: registered(self.store, conn, item)
        if feed_type == FeedType.PROCEDURE_CATALOG:
            return self._catalog_document
        return None

    def _catalog_document(self, conn, item: FeedItem, report: PullReport) -> None:
        # A box without the reception package keeps the document only.
        doc = parse_catalog(item.data)
        self.store.meta_set("sync.catalog", json.dumps(doc, ensure_ascii=False))

    def _revocation(self, conn, item: FeedItem, report: PullReport) -> None:
        if item.data.get("station_id") != self.station_id:
            return
        report.revoked = True
        reason = str(item.data.get("reason") or "")[:300]
        _set_meta(conn, "sync.locked", "revoked")
        _set_meta(conn, "sync.lock_reason", reason)
        self.store.audit("sync.revoked", actor="hub", details={"seq": item.seq, "reason": reason})

    def _command(self, conn, item: FeedItem, report: PullReport) -> None:
        command_id = record_command(self.store, conn, item.data, station_id=self.station_id,
                                    receipt_key=self.receipt_key)
        if command_id:
            report.commands.append(command_id)

    def _partition(self, conn, item: FeedItem, report: PullReport) -> None:
        data = item.data
        if data.get("retired") is True:
            # This box was replaced (docs/sync-protocol.md §7): it issues no more codes; it may still
            # upload what it holds. Applied with the checkpoint, which tells the hub it stopped.
            reason = str(data.get("reason") or "replaced")[:100]
            _set_meta(conn, "code_partition_retired", reason)
            _set_meta(conn, META_PARTITION, json.dumps(data, ensure_ascii=False))
            self.store.audit("sync.code_partition_retired", actor="hub", details={"reason": reason})
            return
        index, size = data.get("partition_index"), data.get("partition_size")
        if not partition_fits(index, size):  # integers only: "５" or 7.0 or true is no partition
            raise ProtocolError("code_partition", f"partition {index!r}×{size!r} is not two integers that fit in 1..{MAX_NUMBER}")
        _set_meta(conn, "code_partition_index", str(index))
        _set_meta(conn, "code_partition_size", str(size))
        _set_meta(conn, META_PARTITION, json.dumps(data, ensure_ascii=False))
        self.store.audit("sync.code_partition", actor="hub", details={"index": index, "size": size})


def _set_meta(conn, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, value))


def record_command(store, conn, signed: Any, *, station_id: str, receipt_key: bytes | None) -> str | None:
    """Verify a hub-signed command and record it once; returns its id when it is new."""
    if receipt_key is None:
        raise SignatureError("no hub receipt key: cannot verify a command")
    cmd = verify_command(signed, receipt_key, station_id=station_id)
    command_id = str(cmd["command_id"])
    if conn.execute("SELECT 1 FROM sync_commands WHERE command_id = ?", (command_id,)).fetchone():
        return None
    conn.execute("INSERT INTO sync_commands(command_id, kind, body, state, received_at) VALUES (?,?,?,'pending',?)",
                 (command_id, str(cmd["kind"]), json.dumps(signed, ensure_ascii=False), iso(store.clock.now_s())))
    store.audit("sync.command", actor="hub", details={"command_id": command_id, "kind": cmd["kind"]})
    return command_id


async def pull(store, transport: HubTransport, applier: FeedApplier, *, limit: int = 500,
               max_batches: int = 1000) -> PullReport:
    """Read the feed from the stored checkpoint until ``more`` is false."""
    report = PullReport()
    limit = max(1, min(limit, FEED_MAX_LIMIT))
    for _ in range(max_batches):
        since = int(store.meta_get(META_SINCE) or 0)
        resp = await transport.call("GET", f"/v1/feed?since={since}&limit={limit}")
        items, nxt, more, head = parse_feed_page(resp.json())
        if items and items[0].seq <= since:
            raise ProtocolError("items", f"feed answered seq {items[0].seq} not after since={since}")

        def batch(conn, since=since, items=items, nxt=nxt) -> bool:
            current = int(store.meta_get(META_SINCE) or 0)
            if current != since:  # another process applied this batch meanwhile
                return False
            for item in items:
                applier.apply(conn, item, report)
            if nxt > since:
                _set_meta(conn, META_SINCE, str(nxt))
            return True

        # The batch and its checkpoint in one write, on the writer thread: the loop goes on.
        if not await store.awrite(batch):
            continue
        report.since = max(since, nxt)
        report.head = head
        if not more or not items:
            # Read to the head: master data is as fresh as now (offline guardrails).
            now = iso(store.clock.now_s())
            await store.awrite(lambda conn, now=now: _set_meta(conn, "sync.feed_current_at", now))
            break
    return report


def confirm_committed(store, dossier_id: str, now) -> None:
    """A committed dossier becomes confirmed (through the outbox's transition table)."""
    Outbox(store, now=now).confirm(dossier_id)
