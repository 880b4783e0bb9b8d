"""The fleet page for IT, mounted at ``/fleet/`` on the hub's own port (and its HTTPS).

Server-rendered (Jinja2), Vietnamese, no script: every box with its state (the offline guardrail
warnings among its problems) and filters, 100 a page, worst first; a page per box with its 30-day
chart and its last update report, and the CLI's actions (revoke, send a command, issue a
replacement box's token) behind a login, CSRF tokens and a same-origin check.
``/fleet/rollout`` shows the staged rollouts wave by wave and starts or aborts one, with the
CLI's validation (its messages in Vietnamese).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from core.vntime import VN_TZ
from sync.errors import HubError

from . import _auth
from ._chart import chart_svg
from ._rows import (
    DEVICE_VI,
    KIND_VI,
    STATE_VI,
    WARNING_VI,
    FleetRow,
    duration_vi,
    fleet_rows,
    mark_update_failures,
    newest_version,
)

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
PREFIX = "/fleet"
HUB: web.AppKey[Any] = web.AppKey("motcua_fleet_hub")
# The hub's command builders (sync.hub._core), handed in so this package imports nothing above it.
COMMANDS: web.AppKey[Any] = web.AppKey("motcua_fleet_commands")
ADMIN = web.RequestKey("motcua_fleet_admin", object)
TOKEN = web.RequestKey("motcua_fleet_token", str)
COMMAND_KINDS = {"resync": "Gửi lại toàn bộ hồ sơ chưa có biên nhận", "rotate_key": "Đổi khoá trạm",
                 "wipe": "Xoá an toàn toàn bộ dữ liệu trên trạm"}
REPLACEMENT_TOKEN_DAYS = 7
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
_PUBLIC = frozenset({"login", "login_post", "static"})


class FleetError(Exception):
    """A request to the fleet page is refused; the page shows ``message_vi``."""

    def __init__(self, status: int, message_vi: str) -> None:
        super().__init__(message_vi)
        self.status = status
        self.message_vi = message_vi


def _time_vi(ms: int | None) -> str:
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y")


def _bytes_vi(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20)):
        if n >= size:
            return f"{n / size:.1f} {unit}".replace(".", ",")
    return f"{n // 1024} KB"


def _hub(request: web.Request) -> Any:
    return request.app[HUB]


def _resume_body(request: web.Request) -> None:
    """The hub's middleware holds every body until its request is authenticated: release it."""
    hub = _hub(request)
    hub._authenticated(request)
    type(hub)._resume(request)


async def render(template: str, request: web.Request, context: dict[str, Any] | None = None, *,
                 status: int = 200) -> web.Response:
    """Render off the event loop: a page of a thousand boxes must not hold up the sync protocol."""
    admin = request.get(ADMIN)
    token = request.get(TOKEN)
    base = {"admin": admin, "csrf_token": _auth.csrf_for(token) if token else "", "path": request.path,
            "prefix": PREFIX, "state_vi": STATE_VI, "kind_vi": KIND_VI, "device_vi": DEVICE_VI}
    tpl = aiohttp_jinja2.get_env(request.app).get_template(template)
    html = await _hub(request).run(tpl.render, {**base, **(context or {})})
    return web.Response(text=html, status=status, content_type="text/html")


# --- middleware ------------------------------------------------------------------------------


@web.middleware
async def fleet_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await _guarded(request, handler)
    except FleetError as err:
        response = await render("error.html", request, {"message": err.message_vi}, status=err.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            _headers(request, exc.headers, "text/html")
            raise
        message = {404: "Không có trang này.", 405: "Thao tác không hợp lệ cho trang này."}.get(
            exc.status, "Yêu cầu không hợp lệ.")
        response = await render("error.html", request, {"message": message}, status=exc.status)
    _headers(request, response.headers, response.content_type)
    return response


async def _guarded(request: web.Request, handler: Any) -> web.StreamResponse:
    hub = _hub(request)
    route = request.match_info.route.name
    token = request.cookies.get(_auth.COOKIE_NAME)
    admin = None
    if token and len(token) <= 128:
        admin = await hub.db(hub.storage.resolve_admin_session, _auth.token_hash(token), now=hub.clock(),
                             idle_ms=_auth.IDLE_MINUTES * 60_000)
    if admin is not None:
        request[ADMIN] = admin
        request[TOKEN] = token or ""
    unsafe = request.method not in ("GET", "HEAD")
    if unsafe and not _same_origin(request):
        raise FleetError(403, "Yêu cầu không đến từ trang quản trị của hub; đã từ chối.")
    if route in _PUBLIC:
        if unsafe:
            _resume_body(request)  # the login form
        return await handler(request)
    if admin is None:
        raise web.HTTPSeeOther(f"{PREFIX}/login?next={request.rel_url.path}" + ("&expired=1" if token else ""))
    if unsafe:
        _resume_body(request)  # a logged-in admin's form: only now is its body read
        form = await request.post()
        candidate = form.get("csrf_token")
        if not _auth.csrf_valid(token, candidate if isinstance(candidate, str) else None):
            raise FleetError(403, "Phiên làm việc không hợp lệ (thiếu mã chống giả mạo). Tải lại trang và thử lại.")
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not sent by this browser for a same-origin form; the CSRF token still guards it
    return origin != "null" and origin.split("://", 1)[-1] == request.headers.get("Host", "")


def _headers(request: web.Request, headers: Any, content_type: str) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if "/static/" not in request.path:
        headers.setdefault("Cache-Control", "no-store")
    if content_type == "text/html":
        headers.setdefault("Content-Security-Policy", CSP)


# --- login -----------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    return await render("login.html", request, {"next": _next(request.query.get("next")), "username": "",
                                          "error": None, "expired": request.query.get("expired") == "1"})


def _next(value: Any) -> str:
    value = value if isinstance(value, str) else ""
    return value if value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value else PREFIX + "/"


async def login(request: web.Request) -> web.Response:
    hub = _hub(request)
    form = await request.post()
    username = str(form.get("username", "")).strip()[:_auth.USERNAME_MAX]
    password = str(form.get("password", ""))
    nxt = _next(form.get("next"))
    now = hub.clock()
    attempt = await hub.db(hub.storage.reserve_login, username, now=now, max_attempts=_auth.MAX_ATTEMPTS,
                           lock_ms=_auth.LOCK_MINUTES * 60_000)
    ok = await hub.run(_auth.verify, attempt.password_hash, password)
    if attempt.locked or not ok:
        message = (f"Tài khoản tạm khoá sau {_auth.MAX_ATTEMPTS} lần sai; thử lại sau {_auth.LOCK_MINUTES} phút."
                   if attempt.locked else "Tên đăng nhập hoặc mật khẩu không đúng.")
        return await render("login.html", request, {"next": nxt, "username": username, "expired": False,
                                              "error": message}, status=401)
    session = _auth.new_session()
    await hub.db(hub.storage.login_succeeded, username, token_hash=session.token_hash, now=hub.clock())
    await hub.db(hub.storage.admin_audit, username, "login", now=hub.clock())
    response = web.HTTPSeeOther(nxt)
    response.set_cookie(_auth.COOKIE_NAME, session.token, httponly=True, samesite="Strict", path=PREFIX,
                        secure=request.secure)
    raise response


async def logout(request: web.Request) -> web.Response:
    hub = _hub(request)
    await hub.db(hub.storage.end_admin_session, _auth.token_hash(request[TOKEN]))
    response = web.HTTPSeeOther(f"{PREFIX}/login")
    response.del_cookie(_auth.COOKIE_NAME, path=PREFIX)
    raise response


# --- the list ----------------------------------------------------------------------------------

FILTERS = ("agency", "kind", "state", "behind", "device", "update", "warning", "q")
PAGE_SIZE = 100  # a thousand boxes on one page is half a megabyte of HTML
ANY_WARNING = "any"


def apply_filters(rows: list[FleetRow], query: Any) -> list[FleetRow]:
    agency = query.get("agency", "")
    kind = query.get("kind", "")
    state = query.get("state", "")
    behind = query.get("behind") == "1"
    device = query.get("device") == "1"
    update = query.get("update") == "1"
    warning = query.get("warning", "")
    text = query.get("q", "").strip().casefold()
    out = []
    for r in rows:
        if agency and r.agency_code != agency:
            continue
        if kind and r.kind != kind:
            continue
        if state and r.state != state:
            continue
        if behind and not r.behind:
            continue
        if device and not r.device_problem:
            continue
        if update and not r.update_failed:
            continue
        if warning and not (r.warnings if warning == ANY_WARNING else warning in r.warnings):
            continue
        if text and text not in r.station_id.casefold() and text not in r.name.casefold():
            continue
        out.append(r)
    return out


def _filtered(hub: Any, now: int, query: dict[str, str], rollouts: Any = None) -> tuple[list[FleetRow], list[FleetRow]]:
    """(thread) Every box's row, and the ones the filters keep."""
    rows = _load(hub, now, rollouts)[1]
    return rows, apply_filters(rows, query)


def page_of(shown: list[FleetRow], query: Any) -> tuple[int, int]:
    """(page number from 1, number of pages) for ``?page=``; a page past the end shows the last."""
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    raw = query.get("page", "1")
    number = int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) <= 6 else 1
    return min(max(1, number), pages), pages


def page_links(f: dict[str, str], number: int, pages: int) -> list[tuple[str, str, bool]]:
    """(label, href, current) for the pager: previous, the first, a window around this page, the last,
    next; every link keeps the filters (page 1 has no ``page``)."""
    def href(n: int) -> str:
        kept = {k: v for k, v in f.items() if v}
        if n > 1:
            kept["page"] = str(n)
        return "?" + urlencode(kept) if kept else f"{PREFIX}/"

    if pages <= 1:
        return []
    out: list[tuple[str, str, bool]] = []
    if number > 1:
        out.append(("« Trang trước", href(number - 1), False))
    window = sorted({1, pages, *range(max(1, number - 2), min(pages, number + 2) + 1)})
    last = 0
    for n in window:
        if n - last > 1:
            out.append(("…", "", False))
        out.append((str(n), href(n), n == number))
        last = n
    if number < pages:
        out.append(("Trang sau »", href(number + 1), False))
    return out


async def fleet_list(request: web.Request) -> web.Response:
    hub = _hub(request)
    now = hub.clock()
    rows, shown = await hub.run(_filtered, hub, now, dict(request.query), _rollouts(request))
    counts = {s: 0 for s in STATE_VI}
    for r in rows:
        counts[r.state] += 1
    f = {k: request.query.get(k, "") for k in FILTERS}
    number, pages = page_of(shown, request.query)
    first = (number - 1) * PAGE_SIZE
    return await render("fleet.html", request, {
        "rows": shown[first:first + PAGE_SIZE], "matched": len(shown), "first": first + 1,
        "page": number, "pages": pages, "pager": page_links(f, number, pages),
        "warning_vi": {**WARNING_VI, **{c: f"cảnh báo {c}" for r in rows for c in r.warnings if c not in WARNING_VI}},
        "warning_count": sum(bool(r.warnings) for r in rows),
        "filtered": any(f.values()),
        "total": len(rows), "counts": counts, "now": now,
        "agencies": sorted({r.agency_code for r in rows}), "newest": newest_version(rows),
        "behind_count": sum(r.behind for r in rows), "device_count": sum(r.device_problem for r in rows),
        "update_count": sum(r.update_failed for r in rows),
        "f": f,
        "time_vi": _time_vi, "bytes_vi": _bytes_vi, "duration_vi": duration_vi})


# --- one box -----------------------------------------------------------------------------------


def _rollouts(request: web.Request) -> Any:
    """The hub's rollout functions (sync.hub._rollout), handed in with the command builders."""
    return getattr(request.app[COMMANDS], "rollouts", None)


def _load(hub: Any, now: int, rollouts: Any = None) -> tuple[list[Any], list[FleetRow]]:
    """(thread) The stations and their rows (with their last update reports)."""
    stations = hub.storage.list_stations()
    rows = fleet_rows(stations, now_ms=now)
    if rollouts is not None:
        mark_update_failures(rows, rollouts.station_updates(hub.storage))
    return stations, rows


async def _row_of(request: web.Request) -> tuple[Any, FleetRow, list[FleetRow]]:
    hub = _hub(request)
    sid = request.match_info["station_id"]
    now = hub.clock()
    stations, rows = await hub.run(_load, hub, now, _rollouts(request))
    st = next((s for s in stations if s.station_id == sid), None)
    if st is None:
        raise FleetError(404, f"Không có trạm {sid}.")
    return st, next(r for r in rows if r.station_id == sid), rows


async def station_page(request: web.Request, *, notice: str = "", token: str = "", status: int = 200,
                       error: str = "") -> web.Response:
    hub = _hub(request)
    st, row, rows = await _row_of(request)
    now = hub.clock()
    history = await hub.db(hub.storage.station_history, st.station_id, since=now - 31 * 86400_000)
    audit = list(await hub.db(hub.storage.admin_audit_entries, station_id=st.station_id, limit=20))
    rollouts = _rollouts(request)
    update = None if rollouts is None else await hub.db(rollouts.station_update, hub.storage, st.station_id)
    return await render("station.html", request, {
        "update": update, "outcome_vi": OUTCOME_VI,
        "st": st, "r": row, "chart": chart_svg(history, now_ms=now), "history_hours": len(history),
        "newest": newest_version(rows), "commands": COMMAND_KINDS, "notice": notice, "error": error,
        "token": token, "audit": audit, "time_vi": _time_vi, "bytes_vi": _bytes_vi, "duration_vi": duration_vi,
        "token_days": REPLACEMENT_TOKEN_DAYS}, status=status)


async def station_get(request: web.Request) -> web.Response:
    return await station_page(request)


async def revoke(request: web.Request) -> web.Response:
    hub = _hub(request)
    wipe_builder = request.app[COMMANDS].wipe_builder
    form = await request.post()
    sid = request.match_info["station_id"]
    reason = str(form.get("reason", "")).strip()[:200]
    if str(form.get("confirm", "")).strip() != sid:
        return await station_page(request, status=400, error="Gõ đúng mã trạm vào ô xác nhận để thu hồi.")
    if not reason:
        return await station_page(request, status=400, error="Cần ghi lý do thu hồi.")
    await _row_of(request)
    st = await hub.db(hub.storage.revoke, sid, reason=reason, now=hub.clock(), command_id=uuid.uuid4().hex,
                      build_command=wipe_builder(hub.keys, reason))
    await _audit(request, "revoke", sid, reason)
    logger.warning("station %s revoked from the fleet page by %s", sid, request[ADMIN].username)
    return await station_page(request, notice=f"Đã thu hồi trạm {st.station_id}. Lần liên lạc tới, trạm sẽ nhận "
                                              "lệnh xoá an toàn.")


async def send_command(request: web.Request) -> web.Response:
    from sync.protocol import FeedType

    hub = _hub(request)
    signed_command = request.app[COMMANDS].signed_command
    form = await request.post()
    sid = request.match_info["station_id"]
    kind = str(form.get("kind", ""))
    if kind not in COMMAND_KINDS:
        return await station_page(request, status=400, error="Chọn một lệnh trong danh sách.")
    if kind == "wipe" and str(form.get("confirm", "")).strip() != sid:
        return await station_page(request, status=400, error="Lệnh xoá dữ liệu cần gõ đúng mã trạm vào ô xác nhận.")
    st, _, _ = await _row_of(request)
    if st.revoked_at is not None:
        return await station_page(request, status=409, error="Trạm đã bị thu hồi; không gửi thêm lệnh.")
    command = signed_command(hub.keys, station_id=sid, kind=kind, now=hub.clock())
    row = await hub.db(hub.storage.append_feed, FeedType.COMMAND, command, now=hub.clock(), station_id=sid)
    await _audit(request, f"command.{kind}", sid, command["command"]["command_id"])
    return await station_page(request, notice=f"Đã gửi lệnh “{COMMAND_KINDS[kind]}” (số {row.seq}); trạm thực hiện "
                                              "ở lần lấy tin tới.")


async def replace(request: web.Request) -> web.Response:
    from sync.protocol import format_token, new_token, token_sha256

    from ..storage import NewStation

    hub = _hub(request)
    form = await request.post()
    sid = request.match_info["station_id"]
    st, _, _ = await _row_of(request)
    if str(form.get("confirm", "")).strip() != sid:
        return await station_page(request, status=400, error="Gõ đúng mã trạm vào ô xác nhận để cấp máy thay thế.")
    if st.revoked_at is not None:
        return await station_page(request, status=409, error="Trạm đã bị thu hồi; không thể cấp máy thay thế.")
    token = new_token()
    now = hub.clock()
    try:
        await hub.db(hub.storage.add_station, NewStation(
            station_id=st.station_id, agency_code=st.agency_code, name=st.name, kind=st.kind, address=st.address),
            token_sha256=token_sha256(token), token_expires_at=now + REPLACEMENT_TOKEN_DAYS * 86400_000, now=now)
    except HubError as exc:
        return await station_page(request, status=409, error=f"Không cấp được máy thay thế: {exc}")
    await _audit(request, "replace", sid, "replacement token issued")
    return await station_page(request, token=format_token(token), notice="Đã cấp mã đăng ký cho máy thay thế. Mã chỉ hiện một lần.")


async def _audit(request: web.Request, action: str, station_id: str | None, detail: str) -> None:
    hub = _hub(request)
    await hub.db(hub.storage.admin_audit, request[ADMIN].username, action, now=hub.clock(), station_id=station_id,
                 detail=detail)


# --- staged rollouts ---------------------------------------------------------------------------

ROLLOUT_STATE_VI = {"running": "Đang chạy", "halted": "Đã tự dừng", "done": "Hoàn tất",
                    "aborted": "Đã dừng (CNTT)"}
OUTCOME_VI = {"installed": "Đã cài, chạy tốt", "rolled_back": "Lỗi, đã quay về phiên bản cũ",
              "failed": "Lỗi (chưa quay về được)"}
START_FIELDS = ("version", "waves", "canaries", "agency", "kind", "threshold")
START_DEFAULTS = {"version": "", "waves": "1,10,50,100", "canaries": "", "agency": "", "kind": "", "threshold": "10"}
ABORT_DEFAULT_REASON = "CNTT dừng từ trang quản trị"
_ROLLOUT_ID = re.compile(r"^[0-9a-f]{32}$")
_HALT = re.compile(r"^wave (\d+): (\d+) of (\d+) box\(es\) failed \(threshold (\d+) %\)$")
_STATION_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _Invalid(ValueError):
    """A start form that must not reach the database; the message is for IT, in Vietnamese."""


def halt_wave(status: dict[str, Any]) -> int | None:
    """The wave (1-based) whose failures halted the rollout, if it halted itself."""
    m = _HALT.match(status.get("reason") or "")
    return int(m[1]) if m and status.get("state") == "halted" else None


def reason_vi(status: dict[str, Any]) -> str:
    """The rollout's halt reason in Vietnamese (an abort's reason is IT's own words)."""
    m = _HALT.match(status.get("reason") or "")
    if m:
        return (f"Tự dừng ở đợt {m[1]} khi {m[2]} trên {m[3]} trạm của đợt đã báo cập nhật lỗi (vượt ngưỡng {m[4]} %). "
                "Trạm lỗi tự quay về phiên bản cũ; các đợt sau không được gửi.")
    return status.get("reason") or ""


def parse_waves_vi(text: str, parse_waves: Any) -> tuple[int, ...]:
    """The CLI's ``--waves`` rules with a precise Vietnamese message; the CLI's parser has the last word."""
    shown = text[:40]
    try:
        waves = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise _Invalid(f"Các đợt “{shown}”: ghi phần trăm số trạm của từng đợt, tăng dần, cách nhau bằng dấu phẩy, "
                       "ví dụ 1,10,50,100.") from None
    if not waves or any(not 0 < w <= 100 for w in waves) or list(waves) != sorted(set(waves)):
        raise _Invalid(f"Các đợt “{shown}”: phần trăm phải tăng dần (không lặp lại), mỗi số từ 1 đến 100.")
    if waves[-1] != 100:
        raise _Invalid(f"Các đợt “{shown}”: đợt cuối phải là 100 (mọi trạm).")
    try:
        return parse_waves(text)
    except HubError as exc:  # pragma: no cover - the two sets of rules are the same
        raise _Invalid(f"Các đợt “{shown}” không hợp lệ: {exc}") from None


def _plan(values: dict[str, str], rollouts: Any, rows: list[FleetRow]) -> Any:
    """Validate the start form like ``motcua hub rollout start`` does, before anything is written."""
    from sync.protocol import STATION_KINDS

    version = values["version"].strip()
    if not version:
        raise _Invalid("Cần ghi phiên bản cần triển khai (ví dụ 0.2.0).")
    if not rollouts.version_re.match(version):
        raise _Invalid(f"“{version[:70]}” không phải số phiên bản của gói (ví dụ 0.2.0 hoặc 0.2.0-1).")
    waves = parse_waves_vi(values["waves"].strip(), rollouts.parse_waves)
    kind = values["kind"].strip() or None
    if kind is not None and kind not in STATION_KINDS:
        raise _Invalid("Loại điểm phải là một trong: " + ", ".join(KIND_VI.get(k, k) for k in STATION_KINDS) + ".")
    agency = values["agency"].strip() or None
    threshold_text = values["threshold"].strip() or "10"
    try:
        threshold = int(threshold_text)
    except ValueError:
        threshold = -1
    if not 0 <= threshold <= 100:
        raise _Invalid(f"Ngưỡng lỗi “{threshold_text[:20]}”: ghi một số phần trăm từ 0 đến 100.")
    canaries = tuple(dict.fromkeys(c for c in re.split(r"[\s,;]+", values["canaries"]) if c))
    bad = [c for c in canaries if not _STATION_ID.match(c)]
    if bad:
        raise _Invalid(f"Mã trạm thử trước “{bad[0][:64]}” không hợp lệ.")
    scope = {r.station_id for r in rows if r.enrolled and r.revoked_at is None
             and (agency is None or r.agency_code == agency) and (kind is None or r.kind == kind)}
    if not scope:
        raise _Invalid("Không có trạm nào đã đăng ký và chưa thu hồi khớp phạm vi này (cơ quan, loại điểm).")
    unknown = [c for c in canaries if c not in scope]
    if unknown:
        raise _Invalid(f"Trạm thử trước {', '.join(unknown[:5])}: không phải trạm đã đăng ký, chưa thu hồi "
                       "trong phạm vi đợt này (cơ quan, loại điểm).")
    return rollouts.plan(version=version, waves=waves, agency_code=agency, kind=kind,
                         failure_threshold_pct=threshold, canaries=canaries)


def _rollout_data(hub: Any, rollouts: Any, rollout_id: str | None) -> dict[str, Any]:
    """(thread) The rollout shown, the earlier ones, the boxes' names and the agencies to choose from."""
    current = rollouts.status(hub.storage, rollout_id)
    stations = hub.storage.list_stations()
    audit = [a for a in hub.storage.admin_audit_entries(limit=200) if a[2].startswith("rollout.")][:10]
    return {"current": current, "recent": rollouts.recent(hub.storage, limit=20), "audit": audit,
            "names": {st.station_id: st.name for st in stations},
            "agencies": sorted({st.agency_code for st in stations}),
            "enrolled": sum(1 for st in stations if st.public_key is not None and st.revoked_at is None)}


async def rollout_page(request: web.Request, *, rollout_id: str | None = None, form: dict[str, str] | None = None,
                       notice: str = "", error: str = "", status: int = 200) -> web.Response:
    hub = _hub(request)
    rollouts = _rollouts(request)
    if rollouts is None:
        raise FleetError(404, "Hub này không có chức năng triển khai phiên bản.")
    wanted = rollout_id or request.query.get("id") or None
    if wanted is not None and not _ROLLOUT_ID.match(wanted):
        raise FleetError(404, "Mã đợt triển khai không hợp lệ.")
    try:
        data = await hub.run(_rollout_data, hub, rollouts, wanted)
    except HubError:
        raise FleetError(404, f"Không có đợt triển khai {wanted}.") from None
    current = data["current"]
    notice = notice or _done_notice(request.query.get("done", ""), current)
    return await render("rollout.html", request, {
        **data, "form": {**START_DEFAULTS, **(form or {})}, "notice": notice, "error": error,
        "rollout_state_vi": ROLLOUT_STATE_VI, "reason_vi": reason_vi(current) if current else "",
        "halt_wave": halt_wave(current) if current else None, "time_vi": _time_vi,
        "latest": not wanted or bool(data["recent"] and data["recent"][0]["rollout_id"] == wanted)}, status=status)


def _done_notice(done: str, status: dict[str, Any] | None) -> str:
    """The notice after a start or an abort (shown on the page the action redirects to)."""
    if status is None:
        return ""
    if done == "started" and status["state"] == "running":  # a reload later shows the state, not this
        first = status["waves"][0]
        return (f"Đã bắt đầu triển khai phiên bản {status['version']} cho {status['boxes']} trạm. Đợt 1 đã gửi lệnh "
                f"cập nhật cho {first['sent'] + first['installed'] + first['rolled_back'] + first['failed']} trạm; "
                "đợt sau chỉ được gửi khi đợt trước xong và không vượt ngưỡng lỗi.")
    if done == "aborted" and status["state"] == "aborted":
        return (f"Đã dừng đợt triển khai phiên bản {status['version']}: không gửi thêm đợt nào. Trạm đã nhận lệnh "
                "vẫn có thể cập nhật và báo kết quả.")
    return ""


async def rollout(request: web.Request) -> web.Response:
    return await rollout_page(request)


async def rollout_start(request: web.Request) -> web.Response:
    hub = _hub(request)
    rollouts = _rollouts(request)
    if rollouts is None:
        raise FleetError(404, "Hub này không có chức năng triển khai phiên bản.")
    form = await request.post()
    values = {k: str(form.get(k, ""))[:300] for k in START_FIELDS}
    _, rows = await hub.run(_load, hub, hub.clock())
    current = await hub.db(rollouts.status, hub.storage)
    try:
        if current is not None and current["state"] == "running":
            raise _Invalid(f"Đợt triển khai {current['rollout_id']} (phiên bản {current['version']}) vẫn đang chạy: "
                           "chờ nó xong hoặc dừng nó trước khi bắt đầu đợt mới.")
        plan = _plan(values, rollouts, rows)
    except _Invalid as exc:
        return await rollout_page(request, form=values, error=str(exc), status=400)
    try:
        started = await hub.db(rollouts.start, hub.storage, hub.keys, plan, now=hub.clock())
    except HubError as exc:  # a start from another worker or the CLI in between: nothing was written
        return await rollout_page(request, form=values, status=409,
                                  error=f"Không bắt đầu được đợt triển khai (không có gì được ghi): {exc}")
    rid = started["rollout_id"]
    detail = (f"{rid} version {plan.version} waves {','.join(map(str, plan.waves))} threshold "
              f"{plan.failure_threshold_pct} %" + (f" agency {plan.agency_code}" if plan.agency_code else "")
              + (f" kind {plan.kind}" if plan.kind else "") + (f" canaries {','.join(plan.canaries)}" if plan.canaries else ""))
    await _audit(request, "rollout.start", None, detail)
    logger.warning("rollout %s of %s started from the fleet page by %s", rid, plan.version, request[ADMIN].username)
    # Post/redirect/get: reloading the page must never start a second rollout.
    raise web.HTTPSeeOther(f"{PREFIX}/rollout?id={rid}&done=started")


async def rollout_abort(request: web.Request) -> web.Response:
    hub = _hub(request)
    rollouts = _rollouts(request)
    if rollouts is None:
        raise FleetError(404, "Hub này không có chức năng triển khai phiên bản.")
    rid = request.match_info["rollout_id"]
    if not _ROLLOUT_ID.match(rid):
        raise FleetError(404, "Mã đợt triển khai không hợp lệ.")
    form = await request.post()
    try:
        current = await hub.db(rollouts.status, hub.storage, rid)
    except HubError:
        raise FleetError(404, f"Không có đợt triển khai {rid}.") from None
    confirm = str(form.get("confirm", "")).strip()
    reason = str(form.get("reason", "")).strip()[:200] or ABORT_DEFAULT_REASON
    if confirm not in (rid, current["version"]):
        return await rollout_page(request, rollout_id=rid, status=400,
                                  error="Gõ đúng mã đợt triển khai hoặc số phiên bản vào ô xác nhận để dừng.")
    if current["state"] in ("done", "aborted"):
        return await rollout_page(request, rollout_id=rid, status=409, error=(
            f"Đợt triển khai này đã {ROLLOUT_STATE_VI[current['state']].lower()}; không còn gì để dừng."))
    try:
        await hub.db(rollouts.abort, hub.storage, rid, reason=reason, now=hub.clock())
    except HubError as exc:
        return await rollout_page(request, rollout_id=rid, status=409, error=f"Không dừng được: {exc}")
    await _audit(request, "rollout.abort", None, f"{rid} version {current['version']}: {reason}")
    logger.warning("rollout %s aborted from the fleet page by %s", rid, request[ADMIN].username)
    raise web.HTTPSeeOther(f"{PREFIX}/rollout?id={rid}&done=aborted")


def create_fleet_app(hub: Any, *, commands: Any) -> web.Application:
    """The fleet page as an aiohttp sub-application; ``commands`` has ``signed_command`` and
    ``wipe_builder`` (sync.hub._core) and ``rollouts``, the rollout functions (sync.hub._rollout)."""
    app = web.Application(middlewares=[fleet_middleware], client_max_size=64 * 1024)
    app[HUB] = hub
    app[COMMANDS] = commands
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    r = app.router
    r.add_get("/login", login_form, name="login")
    r.add_post("/login", login, name="login_post")
    r.add_post("/logout", logout, name="logout")
    r.add_get("/", fleet_list, name="list")
    r.add_get("/stations/{station_id}", station_get, name="station")
    r.add_post("/stations/{station_id}/revoke", revoke, name="revoke")
    r.add_post("/stations/{station_id}/command", send_command, name="command")
    r.add_post("/stations/{station_id}/replace", replace, name="replace")
    r.add_get("/rollout", rollout, name="rollout")
    r.add_post("/rollout/start", rollout_start, name="rollout_start")
    r.add_post("/rollout/{rollout_id}/abort", rollout_abort, name="rollout_abort")
    r.add_static("/static/", HERE / "static", name="static")
    return app
