"""The outbox: every write to the ``outbox`` table goes through here, checked against
:data:`~edge.outbox.TRANSITIONS`.

Writes take a ``conn`` when they belong to a caller's transaction (the finalize, the feed batch);
without one they run in their own write on the store's single writer. Each write has an ``a``
twin (``await outbox.acommit(...)``) for the event loop, which never waits on a write.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from ._errors import NoOutboxRowError, OutboxTransitionError
from ._states import UNSYNCED, OutboxEvent, OutboxState, next_state

logger = logging.getLogger(__name__)

#: Columns an event may set besides ``state`` and ``updated_at``.
_COLUMNS = frozenset({"blob_offsets", "attempts", "next_attempt_at", "last_error", "receipt", "receipt_verified",
                      "committed_at", "confirmed_at"})


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- steps that commit with a store operation (the store calls them with its open conn) ---------

def enqueue(conn, dossier_id: str) -> None:
    """Queue a just-finalized dossier (state ``sealed``), inside the finalize's transaction."""
    cur = conn.execute(
        """INSERT INTO outbox(dossier_id, state, created_at, updated_at)
           SELECT id, ?, finalized_at, finalized_at FROM dossiers WHERE id = ? AND finalized_at IS NOT NULL""",
        (str(OutboxState.SEALED), dossier_id))
    if cur.rowcount != 1:
        raise NoOutboxRowError(dossier_id)


def mark_shredded(conn, dossier_id: str, *, forced: bool = False) -> None:
    """The outbox step of a shred: ``shredded`` (retention) or ``wiped`` (the city's order).

    A draft never entered the outbox: nothing to do. Any other refusal of the transition table
    aborts the shred (it runs inside the shred's transaction)."""
    row = conn.execute("SELECT state FROM outbox WHERE dossier_id = ?", (dossier_id,)).fetchone()
    if row is None:
        return
    event = OutboxEvent.WIPED if forced else OutboxEvent.SHREDDED
    target = next_state(row[0], event)
    if target is None:
        raise OutboxTransitionError(dossier_id, row[0], event)
    conn.execute("UPDATE outbox SET state = ?, updated_at = (SELECT shredded_at FROM dossiers WHERE id = ?) "
                 "WHERE dossier_id = ?", (str(target), dossier_id, dossier_id))


class Outbox:
    """Reads and every write of the outbox table of one store."""

    def __init__(self, store, *, now: Callable[[], float] = time.time) -> None:
        self.store = store
        self._now = now  # corrected time (seconds)

    def now(self) -> float:
        return self._now()

    # --- reads ---------------------------------------------------------------------------------

    def row(self, dossier_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM outbox WHERE dossier_id = ?", (dossier_id,))
        return rows[0] if rows else None

    @staticmethod
    def offsets(row: dict[str, Any]) -> dict[str, int]:
        try:
            data = json.loads(row.get("blob_offsets") or "{}")
        except ValueError:
            return {}
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def due(self, *, max_backoff: float, limit: int = 1000) -> list[str]:
        """Dossiers to push now, oldest first (by the local counter: immune to clock jumps)."""
        now = self._now()
        states = (OutboxState.SEALED, OutboxState.CREATED, OutboxState.UPLOADING, OutboxState.RETRY_WAIT)
        rows = self.store.query(
            f"""SELECT o.dossier_id, o.state, o.next_attempt_at FROM outbox o JOIN dossiers d ON d.id = o.dossier_id
               WHERE o.state IN ({",".join("?" * len(states))})
               ORDER BY d.counter, o.created_at LIMIT ?""", (*map(str, states), limit))
        out = []
        for r in rows:
            if r["state"] == OutboxState.RETRY_WAIT:
                when = parse_iso(r["next_attempt_at"])
                # A wait longer than any backoff means the clock jumped back: the row is due.
                if when is not None and now < when <= now + max_backoff * 1.5:
                    continue
            out.append(r["dossier_id"])
        return out

    def counts(self) -> dict[str, int]:
        return {r["state"]: r["n"] for r in self.store.query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")}

    def pending(self) -> int:
        marks = ",".join("?" * len(UNSYNCED))
        return self.store.query(f"SELECT COUNT(*) AS n FROM outbox WHERE state IN ({marks})",
                                tuple(str(s) for s in UNSYNCED))[0]["n"]

    def oldest_unsynced_created(self) -> str | None:
        marks = ",".join("?" * len(UNSYNCED))
        rows = self.store.query(f"SELECT MIN(created_at) AS t FROM outbox WHERE state IN ({marks})",
                                tuple(str(s) for s in UNSYNCED))
        return rows[0]["t"] if rows else None

    # --- the one transition primitive ------------------------------------------------------------

    def apply(self, dossier_id: str, event: OutboxEvent | str, *, conn=None, audit: dict[str, Any] | None = None,
              **columns: Any) -> OutboxState:
        """Move the row by ``event`` (refused unless the transition table allows it: then nothing
        changes) and set ``columns``; returns the new state. ``audit``: log the move (when the
        state changes). With ``conn``, inside the caller's transaction."""
        event = OutboxEvent(event)
        unknown = set(columns) - _COLUMNS
        if unknown:
            raise ValueError(f"not outbox columns: {', '.join(sorted(unknown))}")

        def run(c) -> OutboxState:
            current = c.execute("SELECT state FROM outbox WHERE dossier_id = ?", (dossier_id,)).fetchone()
            if current is None:
                raise NoOutboxRowError(dossier_id)
            target = next_state(current[0], event)
            if target is None:
                raise OutboxTransitionError(dossier_id, current[0], event)
            sets = {"state": str(target), "updated_at": iso(self._now()), **columns}
            c.execute(f"UPDATE outbox SET {', '.join(f'{k} = ?' for k in sets)} WHERE dossier_id = ?",
                      (*sets.values(), dossier_id))
            if audit is not None and current[0] != target:
                self.store.audit(f"sync.{target}", actor="sync", dossier_id=dossier_id,
                                 details={"from": current[0], **audit})
            return target

        return run(conn) if conn is not None else self.store.write(run)

    async def aapply(self, dossier_id: str, event: OutboxEvent | str, *, audit: dict[str, Any] | None = None,
                     **columns: Any) -> OutboxState:
        """:meth:`apply` awaited from the event loop (the write runs on the writer thread)."""
        return await self.store.awrite(lambda conn: self.apply(dossier_id, event, conn=conn, audit=audit, **columns))

    # --- named events --------------------------------------------------------------------------

    def created(self, dossier_id: str, *, conn=None) -> OutboxState:
        return self.apply(dossier_id, OutboxEvent.CREATED, conn=conn, last_error=None)

    def uploaded(self, dossier_id: str, sha256: str, offset: int, *, conn=None) -> OutboxState | None:
        """Record the hub's acknowledged offset of one blob (state ``uploading``). A row that moved
        on meanwhile (committed, rejected) keeps its state and offsets: returns None then."""
        def run(c) -> OutboxState | None:
            row = c.execute("SELECT state, blob_offsets FROM outbox WHERE dossier_id = ?", (dossier_id,)).fetchone()
            if row is None:
                raise NoOutboxRowError(dossier_id)
            if next_state(row[0], OutboxEvent.UPLOADED) is None:
                return None
            offsets = self.offsets({"blob_offsets": row[1]})
            offsets[sha256] = int(offset)
            return self.apply(dossier_id, OutboxEvent.UPLOADED, conn=c, blob_offsets=json.dumps(offsets))

        return run(conn) if conn is not None else self.store.write(run)

    set_offset = uploaded

    def commit(self, dossier_id: str, *, receipt: str, committed_at: str, audit: dict[str, Any] | None = None,
               conn=None) -> OutboxState:
        """A receipt came back and verified."""
        return self.apply(dossier_id, OutboxEvent.COMMITTED, conn=conn, audit=audit, receipt=receipt,
                          receipt_verified=1, committed_at=committed_at, last_error=None, next_attempt_at=None)

    def retry(self, dossier_id: str, *, wait_seconds: float, error: str, attempts: int | None = None,
              conn=None) -> OutboxState:
        """A transient failure: wait ``wait_seconds`` (the caller's backoff), then the row is due."""
        def run(c) -> OutboxState:
            row = c.execute("SELECT attempts FROM outbox WHERE dossier_id = ?", (dossier_id,)).fetchone()
            if row is None:
                raise NoOutboxRowError(dossier_id)
            n = attempts if attempts is not None else int(row[0] or 0) + 1
            return self.apply(dossier_id, OutboxEvent.FAILED, conn=c, attempts=n,
                              next_attempt_at=iso(self._now() + wait_seconds), last_error=error)

        return run(conn) if conn is not None else self.store.write(run)

    def reject(self, dossier_id: str, *, error: str, audit: dict[str, Any] | None = None, conn=None) -> OutboxState:
        return self.apply(dossier_id, OutboxEvent.REJECTED, conn=conn, audit=audit, last_error=error)

    def quarantine(self, dossier_id: str, *, error: str, audit: dict[str, Any] | None = None,
                   conn=None) -> OutboxState:
        return self.apply(dossier_id, OutboxEvent.QUARANTINED, conn=conn, audit=audit, last_error=error)

    def confirm(self, dossier_id: str, *, conn=None) -> bool:
        """The city holds the dossier: a committed dossier becomes confirmed. Any other state is
        left alone (the feed may repeat itself, or speak of a dossier not yet committed here);
        returns whether the row moved."""
        def run(c) -> bool:
            row = c.execute("SELECT state FROM outbox WHERE dossier_id = ?", (dossier_id,)).fetchone()
            if row is None or row[0] != OutboxState.COMMITTED:
                return False
            self.apply(dossier_id, OutboxEvent.CONFIRMED, conn=c, confirmed_at=iso(self._now()))
            return True

        return run(conn) if conn is not None else self.store.write(run)

    def person_retry(self, dossier_id: str, *, actor: str, conn=None) -> OutboxState:
        """A person looked at a rejected/quarantined dossier and asks to send it again."""
        return self.apply(dossier_id, OutboxEvent.RETRIED, conn=conn, audit={"by": actor}, attempts=0,
                          next_attempt_at=None, last_error=None)

    def release_backoff(self, *, conn=None) -> int:
        """Every dossier waiting out a backoff is due now (the network just came back). Not a move:
        the rows stay ``retry_wait``, only their time is cleared."""
        def run(c) -> int:
            return c.execute("UPDATE outbox SET next_attempt_at = NULL WHERE state = ?",
                             (str(OutboxState.RETRY_WAIT),)).rowcount

        return run(conn) if conn is not None else self.store.write(run)

    async def arelease_backoff(self) -> int:
        return await self.store.awrite(lambda conn: self.release_backoff(conn=conn))
