"""The lockout holds against attempts sent all at once: the form, the API session endpoint and
the supervisor override at finalize share one path, over a real server and real connections."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from web_helpers import APPLICANT, PASSWORDS, csrf_of

from edge.web import accounts

WRONG = 40


async def _form_login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> int:
    async with session.post(f"{base}/login", data={"username": username, "password": password},
                            allow_redirects=False) as resp:
        await resp.read()
        return resp.status


async def _api_login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> int:
    async with session.post(f"{base}/api/v1/session", json={"username": username, "password": password}) as resp:
        await resp.read()
        return resp.status


async def _burst(send, right: str) -> tuple[list[int], int]:
    """40 wrong passwords in flight, then the right one while they are still being checked."""
    wrong = [asyncio.create_task(send(f"sai-mat-khau-{i:03d}")) for i in range(WRONG)]
    await asyncio.sleep(0.05)
    right_status = await send(right)
    return list(await asyncio.gather(*wrong)), right_status


@pytest.mark.parametrize("via", ["form", "api"])
async def test_parallel_wrong_passwords_do_not_let_the_right_one_in(server, store, settings, via):
    login = _form_login if via == "form" else _api_login
    ok = 303 if via == "form" else 201
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def send(password: str) -> int:
            return await login(session, server, "clerk", password)

        statuses, right_status = await _burst(send, PASSWORDS["clerk"])
        assert ok not in statuses
        assert right_status != ok, "the right password got in during a burst of wrong ones"
        # Locked now: the right password is refused right after too, and no session was opened.
        assert accounts.locked_for(store, "clerk") > 0
        assert await send(PASSWORDS["clerk"]) != ok
    assert store.query("SELECT count(*) AS n FROM web_sessions WHERE username = 'clerk'")[0]["n"] == 0


async def test_too_many_attempts_at_once_is_refused_in_vietnamese(server, store, settings):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def send(password: str):
            async with session.post(f"{server}/api/v1/session",
                                    json={"username": "admin", "password": password}) as resp:
                return resp.status, await resp.json()

        answers = await asyncio.gather(*(send(f"sai-{i}") for i in range(12)))
    codes = {body["error"]["code"] for _status, body in answers}
    assert codes <= {"bad_credentials", "locked", "busy"}
    assert "busy" in codes or "locked" in codes
    for status, body in answers:
        assert body["error"]["message_vi"]
        if body["error"]["code"] in ("busy", "locked"):
            assert status == 429


async def test_parallel_override_guesses_do_not_finalize(server, store, settings):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async with session.post(f"{server}/api/v1/session",
                                json={"username": "clerk", "password": PASSWORDS["clerk"]}) as resp:
            headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        async with session.post(f"{server}/api/v1/dossiers", headers=headers,
                                json={"procedure_code": "1.004222", "applicant": APPLICANT}) as resp:
            dossier_id = (await resp.json())["id"]  # no pages: only a supervisor's override finalizes it

        async def send(password: str) -> int:
            async with session.post(f"{server}/api/v1/dossiers/{dossier_id}/finalize", headers=headers,
                                    json={"fee": {"method": "later"},
                                          "override": {"username": "super", "password": password}}) as resp:
                await resp.read()
                return resp.status

        statuses, right_status = await _burst(send, PASSWORDS["super"])
        assert 200 not in statuses
        assert right_status != 200, "the supervisor's password got through a burst of guesses"
        assert accounts.locked_for(store, "super") > 0
        assert await send(PASSWORDS["super"]) != 200
    assert store.summary(dossier_id).status == "draft"


async def test_a_lockout_reached_while_the_right_password_is_checked_wins(store, settings):
    """finish_login re-checks: an account locked meanwhile is not unlocked by a success."""
    limits = {"max_attempts": 3, "lockout_minutes": 1}
    right = accounts.begin_login(store, "clerk", **limits)
    for _ in range(2):  # two wrong guesses, checked while the right one is still being hashed
        wrong = accounts.begin_login(store, "clerk", **limits)
        with pytest.raises(accounts.AuthError):
            accounts.finish_login(store, wrong, False, **limits)
    assert accounts.locked_for(store, "clerk") > 0
    ok = accounts.verify_password(right, PASSWORDS["clerk"])
    assert ok
    with pytest.raises(accounts.AuthError) as err:
        accounts.finish_login(store, right, ok, **limits)
    assert err.value.code == "locked" and "tạm khóa" in err.value.message_vi
    assert accounts.locked_for(store, "clerk") > 0
    with pytest.raises(accounts.AuthError) as err:
        accounts.begin_login(store, "clerk", **limits)
    assert err.value.code == "locked"


async def test_form_login_still_works_after_a_few_wrong_tries(server, store):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        assert await _form_login(session, server, "clerk", "sai-mat-khau") == 401
        assert await _form_login(session, server, "clerk", PASSWORDS["clerk"]) == 303
        async with session.get(f"{server}/dossiers/new") as resp:
            assert csrf_of(await resp.text())
    assert store.query("SELECT count(*) AS n FROM web_login_failures WHERE username = 'clerk'")[0]["n"] == 0


async def test_attempts_counted_to_the_limit_lock_the_account_at_once(store, settings):
    """Attempts still being checked have used up the count: the next attempt is refused and the
    lock it sets is committed (it lasts from now), before any of them finishes."""
    limits = {"max_attempts": 3, "lockout_minutes": 1}
    for _ in range(3):  # three attempts in flight, none finished yet
        accounts.begin_login(store, "clerk", **limits)
    assert accounts.locked_for(store, "clerk") == 0
    with pytest.raises(accounts.AuthError) as err:
        accounts.begin_login(store, "clerk", **limits)
    assert err.value.code == "locked"
    assert accounts.locked_for(store, "clerk") > 0
    with pytest.raises(accounts.AuthError) as err:
        await accounts.abegin_login(store, "clerk", **limits)
    assert err.value.code == "locked"
