"""Tamper-evident audit log: each row's hash covers its content and the previous row's hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

GENESIS = "0" * 64


def _digest(prev_hash: str, seq: int, at: str, actor: str, action: str, dossier_id: str | None, details: str) -> str:
    body = json.dumps([seq, at, actor, action, dossier_id, details], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(conn, *, at: str, actor: str, action: str, dossier_id: str | None, details: dict[str, Any]) -> int:
    """Append one row (inside the caller's transaction); returns its sequence number."""
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
    text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = _digest(prev, seq, at, actor, action, dossier_id, text)
    conn.execute("INSERT INTO audit(seq, at, actor, action, dossier_id, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
                 (seq, at, actor, action, dossier_id, text, prev, digest))
    return seq


def verify(conn) -> Iterator[str]:
    """Yield a message for every row that breaks the chain."""
    prev = GENESIS
    expected_seq = 1
    for seq, at, actor, action, dossier_id, details, prev_hash, digest in conn.execute(
        "SELECT seq, at, actor, action, dossier_id, details, prev_hash, hash FROM audit ORDER BY seq"
    ):
        if seq != expected_seq:
            yield f"audit row {expected_seq} is missing (next row is {seq})"
        if prev_hash != prev:
            yield f"audit row {seq}: previous-hash link broken"
        if _digest(prev_hash, seq, at, actor, action, dossier_id, details) != digest:
            yield f"audit row {seq}: content does not match its hash (altered)"
        prev = digest
        expected_seq = seq + 1
