"""Signing digitized copies on the intake page (ký số): the token's certificate shown before
signing, the PIN typed by the clerk, the signed mark on each signed component; the token on
the devices panel.

The PIN lives in the app's :class:`edge.signing.PinVault`, keyed by the clerk's web session
(forgotten on a wrong PIN, on logout and after the session's idle time); it is never written,
logged or sent back. A token that is absent, locked or carries an expired certificate is a
status with a Vietnamese message at the button, never an error page.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from edge import services, signing
from edge.errors import MotcuaError, ValidationError

from ._auth import current
from ._common import audit, off_loop
from ._keys import SETTINGS, STORE
from ._render import render

logger = logging.getLogger(__name__)

PINS: web.AppKey[signing.PinVault] = web.AppKey("signing_pins")
STATE_VI = {"ok": "Sẵn sàng", "warning": "Cảnh báo", "absent": "Không có token", "expired": "Chứng thư hết hạn",
            "not_yet_valid": "Chứng thư chưa hiệu lực", "untrusted": "Chứng thư không tin cậy",
            "pin_locked": "Token bị khóa PIN", "no_certificate": "Thiếu chứng thư", "module": "Lỗi thư viện",
            "not_configured": "Chưa cấu hình"}


def _session_key(request: web.Request) -> str:
    session = current(request)
    return session.token_hash if session is not None else ""


async def token_state(request: web.Request) -> dict[str, Any] | None:
    """The token's status for a template (off the loop: the module may be slow), None when
    signing is not configured."""
    settings = request.app[SETTINGS]
    if not services.signing_enabled(settings):
        return None
    status = await off_loop(signing.token_status, settings.signing)
    return {**status.to_dict(), "state_vi": STATE_VI.get(status.state, status.state)}


def signed_pages(dossier: Any) -> dict[int, dict[str, Any]]:
    return services.signatures_of(dossier.meta or {})


async def dossier_signing(request: web.Request, dossier: Any) -> dict[str, Any]:
    """What dossier.html shows of signing: the signed pages, and on a draft the token's state."""
    out: dict[str, Any] = {"signed": signed_pages(dossier), "token": None, "pin_held": False}
    if dossier.status == "draft":
        out["token"] = await token_state(request)
        out["pin_held"] = request.app[PINS].get(_session_key(request)) is not None
    return {"signing": out}


async def sign_submit(request: web.Request) -> web.StreamResponse:
    """POST /dossiers/{id}/sign: sign the draft's component PDFs (PIN from the form or held)."""
    from ._views_intake import _dossier_id, dossier_context

    dossier_id = _dossier_id(request)
    form = await request.post()
    pin = form.get("pin", "")
    pin = pin if isinstance(pin, str) else ""
    vault = request.app[PINS]
    key = _session_key(request)
    if pin:
        vault.put(key, pin)
    else:
        pin = vault.get(key) or ""
    try:
        records = await off_loop(services.sign_draft, request.app[STORE], request.app[SETTINGS], dossier_id, pin,
                                 actor=current(request).account.username)
    except MotcuaError as exc:
        if getattr(exc, "status", "") in ("wrong_pin", "pin_locked", "pin_required"):
            vault.forget(key)
        ctx = dossier_context(request, dossier_id, errors={"signing": exc.message_vi or str(exc)})
        ctx.update(await dossier_signing(request, request.app[STORE].get(dossier_id)))
        return render("dossier.html", request, ctx, status=422)
    await audit(request, "dossier.sign.web", dossier_id=dossier_id, pages=len(records))
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=signed#signing")


async def sign_before_finalize(request: web.Request, dossier_id: str) -> None:
    """At finalize: with a PIN held for this session, sign what is still unsigned first; a
    refusal is a ValidationError on ``signing`` (the dossier stays a draft, nothing lost)."""
    settings = request.app[SETTINGS]
    pin = request.app[PINS].get(_session_key(request)) if services.signing_enabled(settings) else None
    if not pin:
        return
    dossier = request.app[STORE].get(dossier_id)
    done = signed_pages(dossier)
    if not any(p.media_type == services.PDF_MEDIA_TYPE and p.index not in done for p in dossier.pages):
        return
    try:
        await off_loop(services.sign_draft, request.app[STORE], settings, dossier_id, pin,
                       actor=current(request).account.username)
    except signing.SigningError as exc:
        if exc.status in ("wrong_pin", "pin_locked"):
            request.app[PINS].forget(_session_key(request))
        raise ValidationError("signing", str(exc), message_vi=exc.message_vi) from None


async def sign_receipt(request: web.Request, pdf: bytes) -> bytes:
    """The receipt signed with the PIN held for this session when ``signing.documents`` includes
    receipts; unsigned otherwise (a refusal is logged and the clerk still gets the receipt)."""
    settings = request.app[SETTINGS]
    if not services.signing_enabled(settings) or settings.signing.documents != "components_and_receipt":
        return pdf
    pin = request.app[PINS].get(_session_key(request))
    if not pin:
        return pdf
    try:
        return await off_loop(services.sign_receipt, request.app[STORE], settings, pdf, pin)
    except signing.SigningError as exc:
        logger.warning("receipt not signed: %s", exc.status)
        if exc.status in ("wrong_pin", "pin_locked"):
            request.app[PINS].forget(_session_key(request))
        return pdf


def forget_pin(request: web.Request) -> None:
    """On logout: the session's PIN goes."""
    request.app[PINS].forget(_session_key(request))


def setup(app: web.Application) -> None:
    from ._roles import allow

    settings = app[SETTINGS]
    app[PINS] = signing.PinVault(ttl_seconds=settings.web.session_idle_minutes * 60)
    app.router.add_post("/dossiers/{id}/sign", allow("dossier.write")(sign_submit))


__all__ = ["PINS", "dossier_signing", "forget_pin", "setup", "token_state"]
