"""Nothing outside ``edge.store`` touches the store's raw connection.

Writes go through ``store.write(fn)`` / ``await store.awrite(fn)`` (the single writer thread),
reads through ``store.query`` and the store's read methods. An AST walk of every module of
``edge``, ``sync``, ``provisioning`` and ``bench`` outside ``edge/store`` looks for the ways
around that: the store's private ``_transaction()`` lease or ``_database``, and the old
``store.transaction()`` / ``store.db`` aliases, on anything that names the store (``store``,
``self.store``, ``box_store``, ``request.app[STORE]``, or ``db`` as the web's helpers call it),
also through ``getattr``/``hasattr``. Other objects' ``.transaction()`` (psycopg on the hub) and
``.db`` (the hub's own helper) are not the store's and are left alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from edge.store import Store

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ("edge", "sync", "provisioning", "bench")
EXEMPT = ROOT / "edge" / "store"

#: Always a reach into the store's inside, whatever the receiver is called.
PRIVATE = {"_database", "_transaction"}
#: The old public aliases: a violation on a receiver that names the store.
ALIASES = {"transaction", "db"}
_STORE_LIKE = re.compile(r"(^|[._])(box_)?store$|\[STORE\]$|^db$", re.IGNORECASE)


def _store_like(node: ast.expr) -> bool:
    return bool(_STORE_LIKE.search(ast.unparse(node)))


def violations(source: str, filename: str = "<string>") -> list[str]:
    """Every use of a raw connection of the store in ``source``, as ``file:line: code``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        receiver, name = None, None
        if isinstance(node, ast.Attribute):
            receiver, name = node.value, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            receiver, name = node.args[0], node.args[1].value
        if name is None:
            continue
        if name in PRIVATE or (name in ALIASES and _store_like(receiver)):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def _modules() -> list[Path]:
    return sorted(p for top in SCANNED for p in (ROOT / top).rglob("*.py")
                  if EXEMPT not in p.parents and ".venv" not in p.parts)


def test_nothing_outside_the_store_touches_a_raw_connection() -> None:
    modules = _modules()
    scanned = {p.relative_to(ROOT).as_posix() for p in modules}
    # The walk covers the former users (not vacuous).
    assert {"edge/web/accounts.py", "edge/web/_sessions.py", "edge/reception/_migrations.py",
            "sync/client/_manifest.py", "provisioning/_lifecycle.py", "bench/api.py"} <= scanned
    found = [v for p in modules for v in violations(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix())]
    assert found == [], "raw store connections outside edge/store (use store.write/awrite/query):\n" + "\n".join(found)


PLANTED = '''
def f(store, request, db, self):
    with store.transaction() as conn:
        conn.execute("DELETE FROM meta")
    request.app[STORE].db["meta"].insert({})
    self.store._database.conn.execute("SELECT 1")
    with db.transaction():
        pass
    box_store.db.execute("SELECT 1")
    getattr(store, "db")
    hasattr(other, "_transaction")
    store._transaction()
'''


def test_the_check_finds_planted_uses() -> None:
    found = violations(PLANTED, "planted.py")
    lines = sorted({int(v.split(":")[1]) for v in found})
    assert lines == [3, 5, 6, 7, 9, 10, 11, 12], found


@pytest.mark.parametrize("code", [
    "with conn.transaction(), conn.cursor() as cur: pass",  # psycopg, on the hub
    "await self.db(self.storage.admit, 1)",  # the hub's own helper
    "store.write(lambda conn: conn.execute('SELECT 1'))",
    "await store.awrite(fn)",
    "store.query('SELECT 1')",
    "settings.store.state_dir / 'motcua.db'",
])
def test_the_check_leaves_other_objects_alone(code: str) -> None:
    assert violations(code) == []


def test_the_store_has_no_public_raw_connection(box_store: Store) -> None:
    assert not hasattr(box_store, "db") and not hasattr(box_store, "transaction")
    assert callable(box_store.write) and callable(box_store.awrite) and callable(box_store.query)
