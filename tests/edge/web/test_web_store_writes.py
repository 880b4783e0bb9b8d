"""Every write of the web app goes through the store's single-writer path (its lock and
``BEGIN IMMEDIATE``): a login never lands inside another thread's open transaction."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import pytest
import sqlite_utils
from web_helpers import APPLICANT, PASSWORDS, PNG

from edge.web import _dbutil, accounts


class _Aborted(Exception):
    pass


def _sync_like_write_that_rolls_back(store, started: threading.Event, release: threading.Event) -> None:
    """A sync-client-style write in a worker thread: write, hold the writer, then fail and roll back."""
    def write(conn) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES ('test.sync_cursor', '42')")
        started.set()
        release.wait(1.5)
        raise _Aborted

    with pytest.raises(_Aborted):
        store.write(write)


async def test_logins_while_other_threads_write_keep_every_write(server, store):
    dossier_id = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="clerk",
                                    form={"channel": "direct"})
    stop = threading.Event()
    page_errors: list[BaseException] = []
    added = []

    def add_pages() -> None:  # a scanner batch saving pages meanwhile
        while not stop.is_set():
            try:
                added.append(store.add_page(dossier_id, PNG, component="CT01", media_type="image/png", actor="clerk"))
            except BaseException as exc:  # reported below
                page_errors.append(exc)
                return

    pages = threading.Thread(target=add_pages)
    pages.start()
    started, release = threading.Event(), threading.Event()
    sync = threading.Thread(target=_sync_like_write_that_rolls_back, args=(store, started, release))
    sync.start()
    try:
        assert await asyncio.to_thread(started.wait, 5)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.post(f"{server}/login", data={"username": "clerk", "password": PASSWORDS["clerk"]},
                                    allow_redirects=False) as resp:
                assert resp.status == 303
            release.set()
            await asyncio.to_thread(sync.join, 5)
            # The session written by the login survives the other thread's rollback.
            async with session.get(f"{server}/dossiers/new", allow_redirects=False) as resp:
                assert resp.status == 200, "the login's session was lost with another thread's transaction"
            for _ in range(3):
                async with session.post(f"{server}/api/v1/session",
                                        json={"username": "admin", "password": PASSWORDS["admin"]}) as resp:
                    assert resp.status == 201, await resp.text()
    finally:
        release.set()
        stop.set()
        await asyncio.to_thread(pages.join, 10)
        await asyncio.to_thread(sync.join, 5)
    assert not page_errors, page_errors
    assert store.meta_get("test.sync_cursor") is None
    assert store.query("SELECT count(*) AS n FROM web_sessions")[0]["n"] == 4
    assert len(store.get(dossier_id).pages) == len(added) > 0


def test_the_web_refuses_a_bare_database_connection(store):
    """No fallback to ``db.atomic()``: a bare database or connection is refused, only the store's
    single writer writes."""
    bare = sqlite_utils.Database(store.root / "motcua.db")
    try:
        for target in (bare, bare.conn):
            with pytest.raises(TypeError, match="Store"):
                accounts.set_disabled(target, "clerk", True)
            with pytest.raises(TypeError, match="Store"):
                _dbutil.write(target, lambda conn: conn.execute("DELETE FROM web_sessions"))
            with pytest.raises(TypeError, match="Store"):
                asyncio.run(_dbutil.awrite(target, lambda conn: conn.execute("DELETE FROM web_sessions")))
    finally:
        bare.close()
    assert accounts.get_account(store, "clerk").disabled is False
