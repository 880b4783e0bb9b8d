"""``motcua bench api``: the clerk API under load, against a bare aiohttp handler.

With 100,000 dossiers in a real store (quick mode: 2,000), over real HTTP on 127.0.0.1:
p50/p95 of the dossier list page (``GET /api/v1/dossiers?limit=50``) and of a look-up by ID
number (``POST /api/v1/lookup``), deep pages both by ``offset`` and by the keyset cursor
(``before=``, what "Trang sau" uses), and dossiers finalized per second (``POST …/finalize``
on drafts that already hold their pages). The baseline is a bare aiohttp handler returning the
same JSON bytes in the same run, measured with the same client; rounds of list requests and of
bare requests alternate (``bench._harness.acompare``), each round's p95 compared with its pair's
(goal: ratio ≤ 3), and the same for look-ups (in ``details.lookup``). Goal: list and look-up p95 < 50 ms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from bench._harness import (
    BenchResult,
    acompare,
    install_packages,
    peak_rss_mb,
    spread_of,
    summary_ms,
)

GOAL = 3

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Thu", "Kim"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Linh", "Mai", "Nam",
         "Nga", "Nhung", "Phong", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến"]
PROCEDURE = "1.004222"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


def _applicant(rng: random.Random, i: int) -> dict[str, str]:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 55))
    century = (0 if born.year < 2000 else 2) + rng.randrange(2)
    id_number = f"{rng.randrange(1, 97):03d}{century}{born.year % 100:02d}{i % 1_000_000:06d}"
    return {"full_name": f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}",
            "id_number": id_number, "date_of_birth": born.isoformat(), "gender": rng.choice(["Nam", "Nữ"]),
            "address": f"{rng.randrange(1, 300)} phố {rng.choice(GIVEN)}, Hà Nội", "phone": f"09{rng.randrange(10**8):08d}"}


def fill(store: Any, count: int, *, rng: random.Random, per_day: int = 500, batch: int = 2000) -> list[str]:
    """Finalized dossiers through ``edge.outbox.ingest_and_enqueue`` (sealed, coded, queued, audited like real ones;
    no pages), spread over days so each day's codes stay within the station's partition.
    Returns the ID numbers used."""
    from edge.outbox import ingest_and_enqueue

    ids: list[str] = []
    start = dt.datetime.now(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    done = 0
    while done < count:
        def batch_of(_conn: Any, first: int = done) -> list[str]:  # one write per batch
            used = []
            for i in range(first, min(count, first + batch)):
                person = _applicant(rng, i)
                received = start - dt.timedelta(days=i // per_day, minutes=i % per_day)
                ingest_and_enqueue(store, procedure_code=PROCEDURE, applicant=person, pages=[], actor="bench",
                             received_at=received, due_at=received + dt.timedelta(days=3),
                             form={"channel": "direct"}, meta={"channel": "direct", "bench": True})
                used.append(person["id_number"])
            return used

        ids.extend(store.write(batch_of))
        done = min(count, done + batch)
    return ids


async def _timed_get(session: ClientSession, url: str, headers: dict[str, str] | None = None) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    async with session.get(url, headers=headers) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {url}: HTTP {resp.status}: {body[:200]!r}")
    return time.perf_counter() - t0, body


async def _timed_post(session: ClientSession, url: str, body: dict[str, Any],
                      headers: dict[str, str]) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    async with session.post(url, json=body, headers=headers) as resp:
        data = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"POST {url}: HTTP {resp.status}: {data[:200]!r}")
    return time.perf_counter() - t0, data


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _measure(store: Any, settings: Any, ids: list[str], *, samples: int, finalize_n: int,
                   rng: random.Random, rounds: int | None) -> dict[str, Any]:
    from edge.web import accounts, create_app

    accounts.create_account(store, "bench", "Bench", "clerk", "bench-password")
    runner, base = await _serve(create_app(settings=settings, store=store))
    bare_runner = None
    try:
        async with ClientSession() as session:
            async with session.post(f"{base}/api/v1/session",
                                    json={"username": "bench", "password": "bench-password"}) as resp:
                token = (await resp.json())["token"]
            h = {"Authorization": f"Bearer {token}"}
            list_body = b""
            for _ in range(20):  # warm-up
                _t, list_body = await _timed_get(session, f"{base}/api/v1/dossiers?limit=50", h)
            look_body = (await _timed_post(session, f"{base}/api/v1/lookup", {"id_number": ids[0]}, h))[1]

            # Baseline: a bare aiohttp handler serving the same bytes, same client, same loop.
            async def bare_list(_r: web.Request) -> web.Response:
                return web.Response(body=list_body, content_type="application/json")

            async def bare_lookup(_r: web.Request) -> web.Response:
                return web.Response(body=look_body, content_type="application/json")

            bare = web.Application()
            bare.router.add_get("/list", bare_list)
            bare.router.add_get("/lookup", bare_lookup)
            bare_runner, bare_base = await _serve(bare)
            for _ in range(20):
                await _timed_get(session, f"{bare_base}/list")

            # Interleaved rounds: `samples` list requests, then `samples` bare ones, and again.
            list_all: list[float] = []
            found = {"n": 0, "asked": 0}

            p50s: dict[str, list[float]] = {"list": [], "bare": []}

            async def list_round() -> float:
                t = [(await _timed_get(session, f"{base}/api/v1/dossiers?limit=50", h))[0] for _ in range(samples)]
                list_all.extend(t)
                p50s["list"].append(summary_ms(t)["p50_ms"])
                return summary_ms(t)["p95_ms"]

            async def bare_list_round() -> float:
                t = [(await _timed_get(session, f"{bare_base}/list"))[0] for _ in range(samples)]
                p50s["bare"].append(summary_ms(t)["p50_ms"])
                return summary_ms(t)["p95_ms"]

            async def lookup_round() -> float:
                t = []
                for _ in range(samples):
                    took, body = await _timed_post(session, f"{base}/api/v1/lookup", {"id_number": rng.choice(ids)}, h)
                    t.append(took)
                    found["n"] += min(1, body.count(b'"code"'))
                    found["asked"] += 1
                return summary_ms(t)["p95_ms"]

            async def bare_lookup_round() -> float:
                t = [(await _timed_get(session, f"{bare_base}/lookup"))[0] for _ in range(samples)]
                return summary_ms(t)["p95_ms"]

            list_cmp = await acompare(list_round, bare_list_round, rounds=rounds, goal_at_most=GOAL)
            look_cmp = await acompare(lookup_round, bare_lookup_round, rounds=rounds)
            if found["n"] < found["asked"]:
                raise RuntimeError(f"look-ups found {found['n']} dossiers for {found['asked']} existing ID numbers")

            deep_t = []
            for _ in range(max(10, samples // 5)):
                offset = rng.randrange(0, max(1, len(ids) - 50))
                t, _b = await _timed_get(session, f"{base}/api/v1/dossiers?limit=50&offset={offset}", h)
                deep_t.append(t)
            # The same deep positions through the keyset cursor ("Trang sau"): what the list
            # pages actually use; the cursors are taken from the store before timing.
            from edge.web._paging import encode_cursor

            deep_cursor_t, deep_html_t = [], []
            for _ in range(max(10, samples // 5)):
                offset = rng.randrange(0, max(1, len(ids) - 50))
                row = store.list(limit=1, offset=offset)[0]
                cursor = encode_cursor(store.list_cursor(row.id))
                t, body = await _timed_get(session, f"{base}/api/v1/dossiers?limit=50&before={cursor}", h)
                deep_cursor_t.append(t)
                if body.count(b'"code"') < min(50, len(ids) - offset - 1):
                    raise RuntimeError(f"cursor page at {offset} came back short")
                t, _b = await _timed_get(session, f"{base}/dossiers?before={cursor}&page={offset // 50 + 2}", h)
                deep_html_t.append(t)
            html_t = []
            for _ in range(max(10, samples // 5)):
                t, _b = await _timed_get(session, f"{base}/dossiers?status=finalized", h)
                html_t.append(t)
            # Finalize rate: drafts with both required pages prepared over HTTP, then finalized.
            drafts = []
            for i in range(finalize_n):
                async with session.post(f"{base}/api/v1/dossiers", headers=h, json={
                        "procedure_code": PROCEDURE, "applicant": _applicant(rng, 900_000 + i)}) as resp:
                    did = (await resp.json())["id"]
                for comp in ("CT01", "CMCH"):
                    async with session.post(f"{base}/api/v1/dossiers/{did}/pages?component={comp}",
                                            headers={**h, "Content-Type": "image/png"}, data=PNG) as resp:
                        await resp.read()
                drafts.append(did)
            t0 = time.perf_counter()
            for did in drafts:
                async with session.post(f"{base}/api/v1/dossiers/{did}/finalize", headers=h,
                                        json={"fee": {"method": "cash", "receipt_number": "BL-1"}}) as resp:
                    if resp.status != 200:
                        raise RuntimeError(f"finalize: HTTP {resp.status}: {await resp.text()}")
            finalize_s = time.perf_counter() - t0
    finally:
        await runner.cleanup()
        if bare_runner is not None:
            await bare_runner.cleanup()
    return {"list_cmp": list_cmp, "lookup_cmp": look_cmp, "list": summary_ms(list_all),
            "p50_ratio": spread_of([a / b for a, b in zip(p50s["list"], p50s["bare"], strict=True)]),
            "list_deep_offset": summary_ms(deep_t),
            "list_deep_cursor": summary_ms(deep_cursor_t), "html_deep_cursor": summary_ms(deep_html_t),
            "html_list": summary_ms(html_t), "finalized_per_s": round(finalize_n / finalize_s, 2),
            "finalize_n": finalize_n, "list_bytes": len(list_body)}


def run(quick: bool = False, rounds: int | None = None, **_: Any) -> BenchResult:
    from edge.config import load_settings
    from edge.store import Store

    install_packages()
    count = 2_000 if quick else 100_000
    samples = 40 if quick else 100
    finalize_n = 10 if quick else 100
    rng = random.Random(20270203)
    with tempfile.TemporaryDirectory(prefix="motcua-bench-api-") as tmp:
        root = Path(tmp)
        settings = load_settings(None, env={}, overrides={"store": {"state_dir": str(root / "state")}})
        Store.init(settings, agency_code="000.00.06.H56", demo_key_out=root / "city.key.json")
        store = Store.open(settings)
        try:
            from edge import reception

            reception.import_catalog(store, reception.load_catalog_json(reception.DEMO_CATALOG), source="demo")
            t0 = time.perf_counter()
            ids = fill(store, count, rng=rng)
            fill_s = time.perf_counter() - t0
            m = asyncio.run(_measure(store, settings, ids, samples=samples, finalize_n=finalize_n, rng=rng,
                                     rounds=rounds))
            cipher = store.cipher
        finally:
            store.close()
    look = m["lookup_cmp"].summary()
    details = {
        "dossiers": count, "fill_seconds": round(fill_s, 1), "requests_per_round": samples,
        "list_p50_ms_all_rounds": m["list"]["p50_ms"], "list_p95_ms_all_rounds": m["list"]["p95_ms"],
        "list_p50_ratio": m["p50_ratio"],
        "lookup": {k: look[k] for k in ("value", "baseline_value", "ratio", "ratio_min", "ratio_max", "spread",
                                        "conclusive")},
        "list_deep_offset_p95_ms": m["list_deep_offset"]["p95_ms"],
        "list_deep_cursor_p50_ms": m["list_deep_cursor"]["p50_ms"],
        "list_deep_cursor_p95_ms": m["list_deep_cursor"]["p95_ms"],
        "html_list_deep_cursor_p95_ms": m["html_deep_cursor"]["p95_ms"],
        "goal_deep_cursor_p95_lt_50ms": m["list_deep_cursor"]["p95_ms"] < 50,
        "html_list_page_p95_ms": m["html_list"]["p95_ms"],
        "finalized_per_second": m["finalized_per_s"], "finalize_n": m["finalize_n"],
        "list_page_bytes": m["list_bytes"],
        "goal_list_p95_lt_50ms": m["list"]["p95_ms"] < 50, "goal_lookup_p95_lt_50ms": look["value"] < 50,
        "goal_ratio": GOAL, "peak_rss_mb": peak_rss_mb(), "quick": quick,
    }
    return m["list_cmp"].result(name="api", metric="list page p95 (GET /api/v1/dossiers?limit=50)", unit="ms",
                                baseline="bare aiohttp handler serving the same JSON", cipher=cipher, details=details)
