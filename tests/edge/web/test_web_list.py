"""The dossier list pages by keyset cursor ("Trang sau") in the web app and the JSON API."""

from __future__ import annotations

import html as htmllib
import re

from web_helpers import APPLICANT, api_token, login

from edge.web._views_lookup import PAGE_SIZE


def _fill(store, n: int) -> list[str]:
    def drafts(_conn) -> None:  # one write for them all
        for i in range(n):
            store.create_draft(procedure_code="1.004222", applicant={**APPLICANT, "id_number": f"0011900{i:05d}"},
                               actor="clerk")

    store.write(drafts)
    return [r.id for r in store.list(limit=10_000)]


async def test_web_list_follows_the_cursor_to_the_end(client, store):
    expected = _fill(store, 2 * PAGE_SIZE + 7)
    await login(client)
    seen: list[list[str]] = []
    url = "/dossiers"
    pages = 0
    while url:
        resp = await client.get(url)
        assert resp.status == 200
        html = await resp.text()
        pages += 1
        assert f"<span>Trang {pages}</span>" in html
        seen.append(re.findall(r'<td><a href="/dossiers/([0-9a-f-]{36})">', html))
        nxt = re.search(r'href="(\?before=[^"]+)" rel="next"', html)
        url = "/dossiers" + htmllib.unescape(nxt.group(1)) if nxt else None
    assert [len(p) for p in seen] == [PAGE_SIZE, PAGE_SIZE, 7]
    assert [i for p in seen for i in p] == expected
    # An old bookmark by page number still works (offset).
    html = await (await client.get("/dossiers?page=2")).text()
    assert re.findall(r'<td><a href="/dossiers/([0-9a-f-]{36})">', html) == expected[PAGE_SIZE:2 * PAGE_SIZE]
    resp = await client.get("/dossiers?before=not-a-cursor!")
    assert resp.status == 422 and "Con trỏ trang không hợp lệ" in await resp.text()


async def test_api_list_next_cursor(client, store):
    expected = _fill(store, 23)
    h = await api_token(client)
    got, cursor, rounds = [], None, 0
    while True:
        url = "/api/v1/dossiers?limit=10" + (f"&before={cursor}" if cursor else "")
        body = await (await client.get(url, headers=h)).json()
        got += [d["id"] for d in body["dossiers"]]
        cursor = body["next_cursor"]
        rounds += 1
        if cursor is None:
            break
    assert got == expected and rounds == 3
    resp = await client.get("/api/v1/dossiers?before=%%%", headers=h)
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "before"
    body = await (await client.get("/api/v1/dossiers?limit=10&offset=20", headers=h)).json()
    assert [d["id"] for d in body["dossiers"]] == expected[20:] and body["next_cursor"] is None


async def test_pages_render_without_key_warnings(client, store):
    """aiohttp ≥ 3.14 warns about string keys on requests (aiohttp-jinja2's context middleware
    used one); every page, including error pages, renders without that warning."""
    import warnings

    from aiohttp.web import NotAppKeyWarning

    dossier_id = _fill(store, 1)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await login(client)
        for path in ("/", "/dossiers", "/dossiers/new", f"/dossiers/{dossier_id}", "/lookup", "/devices",
                     "/status", "/no-such-page", "/login"):
            resp = await client.get(path)
            assert resp.status < 500, path
            assert "Trạm Một Cửa" in await resp.text()
    assert [w for w in caught if issubclass(w.category, NotAppKeyWarning)] == []
