"""Dashboard, dossier list, look-up (code / CCCD / name) and hand-back of results."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edge import services
from edge.errors import ValidationError
from edge.store import LIST_STATUSES

from ._auth import current
from ._common import form_str, maybe_await, off_loop
from ._keys import EVENTS, STORE, SYNC
from ._paging import list_page
from ._render import render
from ._roles import allow
from ._views_intake import notice

PAGE_SIZE = 50
STATUSES = LIST_STATUSES  # a life-cycle status, or an outcome (refused, supplement requested)


async def sync_summary(request: web.Request) -> Any:
    sync = request.app[SYNC]
    if sync is None:
        return None
    try:
        return await maybe_await(sync.status())
    except Exception:
        return None


@allow("dossier.read")
async def dashboard(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    return render("dashboard.html", request, {
        "recent": store.list(limit=10),
        "drafts": store.count(status="draft"),
        "finalized": store.count(status="finalized"),
        "handed_over": store.count(status="handed_over"),
        "sync": await sync_summary(request),
    })


@allow("dossier.read")
async def dossier_list(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    status = request.query.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    try:
        page = max(1, min(100000, int(request.query.get("page", "1"))))
    except ValueError:
        page = 1
    before = request.query.get("before") or None
    try:
        # With a cursor ("Trang sau") a deep page costs as much as the first; ?page=N alone
        # (an old bookmark) still works by offset.
        rows, next_cursor = list_page(store, limit=PAGE_SIZE, status=status, before=before,
                                      offset=0 if before else (page - 1) * PAGE_SIZE)
    except ValidationError as exc:
        rows, next_cursor, page, error = [], None, 1, exc.message_vi
    else:
        error = None
    return render("dossier_list.html", request, {
        "rows": rows, "page": page, "next_cursor": next_cursor, "status": status,
        "statuses": STATUSES, "error": error,
    }, status=422 if error else 200)


async def _lookup(request: web.Request, by: str, q: str) -> web.StreamResponse:
    store = request.app[STORE]
    results = None
    error = None
    if q:
        try:
            results = services.find(store, **{{"code": "code", "id": "id_number", "name": "name"}.get(by, "code"): q})
        except ValidationError as exc:
            error = exc.message_vi
        if results is not None and len(results) == 1 and by == "code" and request.query.get("open"):
            raise web.HTTPSeeOther(f"/dossiers/{results[0].id}")
    return render("lookup.html", request, {
        "q": q, "by": by, "results": results, "error": error, "notice": notice(request),
        "qr_seq": request.app[EVENTS].seq,
    }, status=422 if error else 200)


@allow("dossier.read")
async def lookup(request: web.Request) -> web.StreamResponse:
    """GET takes only a dossier code (not personal: a scanned receipt opens the dossier this way).
    ID numbers and names travel in a POST body, so they never land in an access log."""
    return await _lookup(request, "code", request.query.get("q", "").strip()[:200])


@allow("dossier.read")
async def lookup_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    by = form_str(form, "by", 10)
    return await _lookup(request, by if by in ("code", "id", "name") else "code", form_str(form, "q", 200))


@allow("dossier.handover")
async def handover(request: web.Request) -> web.StreamResponse:
    dossier_id = request.match_info["id"]
    await off_loop(services.hand_over, request.app[STORE], dossier_id, actor=current(request).account.username)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=handed_over")


def setup(app: web.Application) -> None:
    app.router.add_get("/", dashboard, name="dashboard")
    app.router.add_get("/dossiers", dossier_list, name="dossiers")
    app.router.add_get("/lookup", lookup, name="lookup")
    app.router.add_post("/lookup", lookup_submit)
    app.router.add_post("/dossiers/{id}/handover", handover)
