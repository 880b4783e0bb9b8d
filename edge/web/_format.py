"""Jinja filters: Vietnamese dates, money, and the names of states."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2

from core import labels
from core.vntime import VN_TZ
from edge.services import OUTCOME_VI
from edge.store import OUTCOMES

# A list shows a refused or sent-back dossier by its outcome (DossierSummary.list_status).
STATUS_VI = {**labels.DOSSIER_STATUS_VI, **{k: v for k, v in OUTCOME_VI.items() if k in OUTCOMES}}
KIND_VI = labels.DOCUMENT_KIND_VI
CHANNEL_VI = labels.CHANNEL_VI


def parse_when(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def local(value: Any) -> dt.datetime | None:
    when = parse_when(value)
    if when is not None and when.tzinfo is not None:
        when = when.astimezone(VN_TZ)  # the box's wall clock may be UTC; clerks read Vietnam time
    return when


def vn_datetime(value: Any) -> str:
    when = local(value)
    return when.strftime("%H:%M ngày %d/%m/%Y") if when else "—"


def vn_date(value: Any) -> str:
    when = local(value)
    return when.strftime("%d/%m/%Y") if when else "—"


def money(value: Any) -> str:
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return "—"
    return f"{amount:,}".replace(",", ".") + " đồng"


def age(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} giây"
    if s < 3600:
        return f"{s // 60} phút"
    if s < 86400:
        return f"{s // 3600} giờ {s % 3600 // 60} phút"
    return f"{s // 86400} ngày {s % 86400 // 3600} giờ"


def register_filters(env: jinja2.Environment) -> None:
    env.filters.update({
        "vn_datetime": vn_datetime, "vn_date": vn_date, "money": money, "age": age,
        "status_vi": lambda s: STATUS_VI.get(s, s or "—"),
        "sync_vi": lambda s: labels.outbox_state_vi(s) or "—",
        "city_vi": lambda s: labels.city_status_vi(s) if s else "—",
        "kind_vi": lambda s: KIND_VI.get(s, s),
        "channel_vi": lambda s: CHANNEL_VI.get(s, s),
    })
