"""The outbox state machine: every transition of a dossier's sync state goes through here."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from ._states import UNSYNCED, OutboxState, can_move

logger = logging.getLogger(__name__)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Outbox:
    """Reads and moves outbox rows (table ``outbox``, owned by the store)."""

    def __init__(self, store, *, now) -> None:
        self.store = store
        self._now = now  # corrected time (seconds)

    def row(self, dossier_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM outbox WHERE dossier_id = ?", (dossier_id,))
        return rows[0] if rows else None

    def offsets(self, row: dict[str, Any]) -> dict[str, int]:
        try:
            data = json.loads(row.get("blob_offsets") or "{}")
        except ValueError:
            return {}
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def due(self, *, max_backoff: float, limit: int = 1000) -> list[str]:
        """Dossiers to push now, oldest first (by the local counter: immune to clock jumps)."""
        now = self._now()
        rows = self.store.query(
            """SELECT o.dossier_id, o.state, o.next_attempt_at FROM outbox o JOIN dossiers d ON d.id = o.dossier_id
               WHERE o.state IN ('sealed', 'created', 'uploading', 'retry_wait')
               ORDER BY d.counter, o.created_at LIMIT ?""", (limit,))
        out = []
        for r in rows:
            if r["state"] == OutboxState.RETRY_WAIT:
                when = parse_iso(r["next_attempt_at"])
                # A wait longer than any backoff means the clock jumped back: the row is due.
                if when is not None and now < when <= now + max_backoff * 1.5:
                    continue
            out.append(r["dossier_id"])
        return out

    def move(self, dossier_id: str, target: OutboxState, *, conn=None, audit: dict[str, Any] | None = None,
             **columns: Any) -> None:
        """Set the state (checked against the allowed transitions) and other outbox columns."""
        def apply(c) -> None:
            current = c.execute("SELECT state FROM outbox WHERE dossier_id = ?", (dossier_id,)).fetchone()
            if current is None:
                raise LookupError(f"dossier {dossier_id} has no outbox row")
            if current[0] != target and not can_move(current[0], target):
                raise ValueError(f"outbox of {dossier_id}: {current[0]} → {target} is not allowed")
            sets = {"state": str(target), "updated_at": iso(self._now()), **columns}
            assignments = ", ".join(f"{k} = ?" for k in sets)
            c.execute(f"UPDATE outbox SET {assignments} WHERE dossier_id = ?", (*sets.values(), dossier_id))
            if audit is not None and current[0] != target:
                self.store.audit(f"sync.{target}", actor="sync", dossier_id=dossier_id,
                                 details={"from": current[0], **audit})

        if conn is not None:
            apply(conn)
        else:
            with self.store.transaction() as c:
                apply(c)

    def set_offset(self, dossier_id: str, sha256: str, offset: int) -> None:
        with self.store.transaction() as c:
            row = c.execute("SELECT state, blob_offsets FROM outbox WHERE dossier_id = ?", (dossier_id,)).fetchone()
            offsets = json.loads(row[1] or "{}")
            offsets[sha256] = int(offset)
            state = row[0] if row[0] == OutboxState.UPLOADING else OutboxState.UPLOADING
            if row[0] != state and not can_move(row[0], state):
                return
            c.execute("UPDATE outbox SET state = ?, blob_offsets = ?, updated_at = ? WHERE dossier_id = ?",
                      (str(state), json.dumps(offsets), iso(self._now()), dossier_id))

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
