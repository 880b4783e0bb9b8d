"""Vietnam time: the one time zone of every date a clerk, a code or a receipt shows."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def vn_date(moment: dt.datetime) -> dt.date:
    """The calendar date in Vietnam of an aware moment (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(VN_TZ).date()
