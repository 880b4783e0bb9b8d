"""Working-day calendar and appointment dates (ngày hẹn trả kết quả).

Conventions (the production rules this module implements):

* **Working time** is the office hours of a working day: a morning and an afternoon segment from
  config section ``reception`` (07:30–11:30 and 13:30–17:00 by default). Saturdays, Sundays and
  the public holidays of the ``holidays`` package (country VN, names in Vietnamese) are not
  working days. Each year's swapped days off and make-up working days come as data: the
  ``calendar_overrides`` table (fed by sync or ``motcua calendar overrides import``) and any
  overrides passed in. An override beats everything; the package's own known make-up Saturdays
  are honoured too.
* **Counting starts at the moment of receipt** if it falls inside office hours; a dossier received
  during the lunch break counts from the afternoon opening, one received after the afternoon
  close, before the morning opening or on a non-working day counts from the next working opening.
* **Days**: N working days = N full office days of working time. Received Tue 10:00 + 5 working
  days is due next Tue 10:00 (no holiday in between). A dossier that starts counting at an
  opening is due at the close of the Nth working day (the end of a segment is reported rather
  than the next opening: "Fri 17:00", not "Mon 07:30").
* **Hours**: a working day counts ``hours_per_day`` processing hours (8 h = 1 day by default),
  spread over the office day, so ``hours=8 * N`` and ``days=N`` always give the same appointment.
  When the office day lasts exactly ``hours_per_day`` (e.g. 07:30–11:30 and 13:00–17:00), one
  processing hour is one clock hour.
* **Suspension** (waiting for supplementary papers): working time inside a suspension interval
  does not count, so the due date moves by the working time suspended.
* **Special rule** ``same_day_cutoff_HH`` (certification, chứng thực): received on a working day
  before HH:00 → due at the close of that day; otherwise at the close of the next working day.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import holidays

from core import labels
from core.vntime import VN_TZ
from edge.errors import ConfigError, ValidationError

from ._migrations import Access

log = logging.getLogger(__name__)

WEEKDAY_VI = labels.WEEKDAY_VI
DEFAULT_DAY_OFF_REASON = "Ngày nghỉ bù"
DEFAULT_WORKING_DAY_REASON = "Ngày làm việc bù"
_MAX_DAYS = 3 * 366
_RULE_RE = re.compile(r"^same_day_cutoff_(\d{1,2})$")


def _parse_time(text: str, key: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(f"reception.{key}: {text!r} is not a time HH:MM",
                          message_vi=f"Giờ làm việc '{key}' không hợp lệ (HH:MM).") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficeHours:
    """The two office segments of a working day and how many processing hours a day counts."""

    morning_open: dt.time = dt.time(7, 30)
    morning_close: dt.time = dt.time(11, 30)
    afternoon_open: dt.time = dt.time(13, 30)
    afternoon_close: dt.time = dt.time(17, 0)
    hours_per_day: float = 8.0

    def __post_init__(self) -> None:
        if not (self.morning_open < self.morning_close <= self.afternoon_open < self.afternoon_close):
            raise ConfigError("reception: office hours must satisfy morning_open < morning_close <= afternoon_open < afternoon_close",
                              message_vi="Giờ làm việc không hợp lệ: giờ mở/đóng cửa sáng, chiều phải theo thứ tự.")
        if not self.hours_per_day > 0:
            raise ConfigError("reception.hours_per_day must be positive",
                              message_vi="Số giờ làm việc mỗi ngày phải lớn hơn 0.")

    @classmethod
    def from_config(cls, cfg: Any) -> OfficeHours:
        """From a :class:`edge.reception.ReceptionConfig`."""
        return cls(morning_open=_parse_time(cfg.morning_open, "morning_open"),
                   morning_close=_parse_time(cfg.morning_close, "morning_close"),
                   afternoon_open=_parse_time(cfg.afternoon_open, "afternoon_open"),
                   afternoon_close=_parse_time(cfg.afternoon_close, "afternoon_close"),
                   hours_per_day=float(cfg.hours_per_day))

    def segments(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        c = dt.datetime.combine
        return ((c(day, self.morning_open), c(day, self.morning_close)),
                (c(day, self.afternoon_open), c(day, self.afternoon_close)))

    @property
    def day_length(self) -> dt.timedelta:
        return sum((b - a for a, b in self.segments(dt.date(2000, 1, 3))), dt.timedelta())


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """A swapped day off or a make-up working day (data, synced from the city)."""

    date: dt.date
    kind: Literal["day_off", "working_day"]
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedDay:
    date: dt.date
    reason: str

    def __iter__(self):
        """Unpacks as ``(date, reason)``."""
        return iter((self.date, self.reason))

    def to_dict(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class DueResult:
    """An appointment: when it is due and which days were skipped on the way, with the reason."""

    received_at: dt.datetime
    due_at: dt.datetime
    skipped: tuple[SkippedDay, ...]
    suspended: dt.timedelta = dt.timedelta()

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received_at.isoformat(timespec="minutes"),
                "due": self.due_at.isoformat(timespec="minutes"),
                "skipped": [s.to_dict() for s in self.skipped],
                "suspended_minutes": round(self.suspended.total_seconds() / 60)}


def _local(value: dt.datetime, what: str) -> tuple[dt.datetime, bool]:
    if not isinstance(value, dt.datetime):
        raise ValidationError(what, f"must be a datetime, got {type(value).__name__}",
                              message_vi="Thời điểm không hợp lệ.")
    if value.tzinfo is None:
        return value, False
    return value.astimezone(VN_TZ).replace(tzinfo=None), True


class WorkCalendar:
    """Working days and office hours; computes appointment dates (see the module docstring)."""

    def __init__(self, *, office: OfficeHours | None = None,
                 overrides: Iterable[Override] | Mapping[dt.date, Override] = ()) -> None:
        self.office = office or OfficeHours()
        items = overrides.values() if isinstance(overrides, Mapping) else overrides
        self.overrides: dict[dt.date, Override] = {o.date: o for o in items}
        self._holidays = holidays.country_holidays("VN", language="vi")

    @classmethod
    def from_config(cls, cfg: Any, *, db: Any = None,
                    overrides: Iterable[Override] = ()) -> WorkCalendar:
        """Office hours from config section ``reception``; overrides from ``db`` then ``overrides``."""
        merged: dict[dt.date, Override] = {}
        if db is not None:
            merged.update({o.date: o for o in load_overrides(db)})
        merged.update({o.date: o for o in overrides})
        return cls(office=OfficeHours.from_config(cfg), overrides=merged)

    # ------------------------------------------------------------ days

    def day_status(self, day: dt.date) -> tuple[bool, str]:
        """(is a working day, the reason it is not — or why a weekend day is one)."""
        override = self.overrides.get(day)
        if override is not None:
            if override.kind == "working_day":
                return True, override.reason or DEFAULT_WORKING_DAY_REASON
            return False, override.reason or DEFAULT_DAY_OFF_REASON
        name = self._holidays.get(day)
        if name:
            return False, name
        if day.weekday() >= 5:
            if day in self._holidays.weekend_workdays:
                return True, DEFAULT_WORKING_DAY_REASON
            return False, WEEKDAY_VI[day.weekday()]
        return True, ""

    def is_working_day(self, day: dt.date) -> bool:
        return self.day_status(day)[0]

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        for _ in range(_MAX_DAYS):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValidationError("calendar", "no working day within three years",
                              message_vi="Không tìm thấy ngày làm việc nào trong ba năm tới.")

    def skipped_days(self, start: dt.date, end: dt.date) -> tuple[SkippedDay, ...]:
        out = []
        day = start
        while day <= end:
            working, reason = self.day_status(day)
            if not working:
                out.append(SkippedDay(date=day, reason=reason))
            day += dt.timedelta(days=1)
        return tuple(out)

    # ------------------------------------------------------------ appointment

    def due(self, received_at: dt.datetime, *, days: float | None = None, hours: float | None = None,
            suspensions: Sequence[tuple[dt.datetime, dt.datetime]] = (), rule: str | None = None) -> DueResult:
        """When a dossier received at ``received_at`` is due (see the module docstring)."""
        start, aware = _local(received_at, "received_at")
        pauses = _suspensions(suspensions)
        if rule:
            due_at, suspended = self._due_cutoff(start, rule, pauses)
        else:
            need = self._need(days, hours)
            due_at, suspended = self._advance(start, need, pauses)
        skipped = self.skipped_days(start.date(), due_at.date())
        if aware:
            return DueResult(received_at=received_at, due_at=due_at.replace(tzinfo=VN_TZ),
                             skipped=skipped, suspended=suspended)
        return DueResult(received_at=received_at, due_at=due_at, skipped=skipped, suspended=suspended)

    def _need(self, days: float | None, hours: float | None) -> dt.timedelta:
        if (days is None) == (hours is None):
            raise ValidationError("processing_time", "give exactly one of days or hours",
                                  message_vi="Cần nhập thời hạn giải quyết theo ngày hoặc theo giờ (một trong hai).")
        value = days if days is not None else hours
        field = "days" if days is not None else "hours"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ValidationError(field, f"must be a positive number, got {value!r}",
                                  message_vi="Thời hạn giải quyết phải là số dương.")
        if value > (3650 if days is not None else 3650 * self.office.hours_per_day):
            raise ValidationError(field, f"is implausibly long ({value})", message_vi="Thời hạn giải quyết quá dài.")
        day = self.office.day_length
        if days is not None:
            return day * days
        return day * (hours / self.office.hours_per_day)

    def _free_parts(self, a: dt.datetime, b: dt.datetime,
                    pauses: Sequence[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
        parts = [(a, b)]
        for ps, pe in pauses:
            nxt = []
            for x, y in parts:
                if pe <= x or ps >= y:
                    nxt.append((x, y))
                    continue
                if ps > x:
                    nxt.append((x, ps))
                if pe < y:
                    nxt.append((pe, y))
            parts = nxt
        return parts

    def _advance(self, start: dt.datetime, need: dt.timedelta,
                 pauses: Sequence[tuple[dt.datetime, dt.datetime]]) -> tuple[dt.datetime, dt.timedelta]:
        remaining = need
        suspended = dt.timedelta()
        day = start.date()
        idle = 0
        for _ in range(_MAX_DAYS * 15):
            idle = idle + 1 if not self.is_working_day(day) else 0
            if idle > 366:
                break
            if idle == 0:
                for a, b in self.office.segments(day):
                    a = max(a, start)
                    if a >= b:
                        continue
                    parts = self._free_parts(a, b, pauses)
                    cursor = a
                    for x, y in parts:
                        suspended += x - cursor
                        if y - x >= remaining:
                            return x + remaining, suspended
                        remaining -= y - x
                        cursor = y
                    suspended += b - cursor
            day += dt.timedelta(days=1)
        raise ValidationError("calendar", "no working day for a whole year (check the overrides)",
                              message_vi="Không tính được ngày hẹn: lịch làm việc không có đủ ngày làm việc.")

    def _suspended_between(self, start: dt.datetime, end: dt.datetime,
                           pauses: Sequence[tuple[dt.datetime, dt.datetime]]) -> dt.timedelta:
        total = dt.timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                for a, b in self.office.segments(day):
                    a, b = max(a, start), min(b, end)
                    if a < b:
                        free = sum((y - x for x, y in self._free_parts(a, b, pauses)), dt.timedelta())
                        total += (b - a) - free
            day += dt.timedelta(days=1)
        return total

    def _due_cutoff(self, start: dt.datetime, rule: str,
                    pauses: Sequence[tuple[dt.datetime, dt.datetime]]) -> tuple[dt.datetime, dt.timedelta]:
        m = _RULE_RE.match(rule)
        if not m or not 0 < int(m.group(1)) < 24:
            raise ValidationError("special_rule", f"unknown rule {rule!r}",
                                  message_vi=f"Quy tắc tính hạn không hợp lệ: {rule}.")
        cutoff = dt.time(int(m.group(1)))
        day = start.date()
        if not (self.is_working_day(day) and start.time() < cutoff):
            day = self.next_working_day(day)
        due_at = dt.datetime.combine(day, self.office.afternoon_close)
        suspended = self._suspended_between(start, due_at, pauses)
        if suspended:
            due_at, more = self._advance(due_at, suspended, pauses)
            suspended += more
        return due_at, suspended


def _suspensions(items: Sequence[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    out = []
    for i, item in enumerate(items):
        try:
            start, end = item
        except (TypeError, ValueError):
            raise ValidationError(f"suspensions[{i}]", "must be a (start, end) pair",
                                  message_vi="Khoảng tạm dừng phải gồm thời điểm bắt đầu và kết thúc.") from None
        s, _ = _local(start, f"suspensions[{i}].start")
        e, _ = _local(end, f"suspensions[{i}].end")
        if e <= s:
            raise ValidationError(f"suspensions[{i}]", f"ends ({e:%Y-%m-%d %H:%M}) before it starts ({s:%Y-%m-%d %H:%M})",
                                  message_vi="Thời điểm kết thúc tạm dừng phải sau thời điểm bắt đầu.")
        out.append((s, e))
    return out


def due(received_at: dt.datetime, days: float | None = None, hours: float | None = None,
        suspensions: Sequence[tuple[dt.datetime, dt.datetime]] = (), *,
        calendar: WorkCalendar | None = None, rule: str | None = None) -> DueResult:
    """Appointment for a dossier (default calendar unless ``calendar`` is given)."""
    return (calendar or WorkCalendar()).due(received_at, days=days, hours=hours,
                                            suspensions=suspensions, rule=rule)


# ---------------------------------------------------------------- overrides as data


def parse_overrides(records: Any, *, where: str = "overrides") -> list[Override]:
    """Validate override records ``{"date", "kind": "day_off"|"working_day", "reason"}``."""
    if isinstance(records, Mapping):
        records = records.get("overrides")
    if not isinstance(records, list):
        raise ValidationError(where, "must be a list of {date, kind, reason}",
                              message_vi="Danh sách ngày nghỉ bù / làm bù phải là một danh sách.")
    out: dict[dt.date, Override] = {}
    for i, rec in enumerate(records):
        w = f"{where}[{i}]"
        if not isinstance(rec, Mapping):
            raise ValidationError(w, "must be an object", message_vi=f"{w}: phải là một đối tượng JSON.")
        unknown = sorted(set(rec) - {"date", "kind", "reason"})
        if unknown:
            raise ValidationError(f"{w}.{unknown[0]}", "unknown field", message_vi=f"{w}: trường không hợp lệ '{unknown[0]}'.")
        try:
            day = dt.date.fromisoformat(rec.get("date"))
        except (TypeError, ValueError):
            raise ValidationError(f"{w}.date", f"must be a date YYYY-MM-DD, got {rec.get('date')!r}",
                                  message_vi=f"{w}: ngày phải có dạng NNNN-TT-NN.") from None
        kind = rec.get("kind")
        if kind not in ("day_off", "working_day"):
            raise ValidationError(f"{w}.kind", f"must be day_off or working_day, got {kind!r}",
                                  message_vi=f"{w}: loại phải là day_off hoặc working_day.")
        reason = rec.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 200:
            raise ValidationError(f"{w}.reason", "must be a string of at most 200 characters",
                                  message_vi=f"{w}: lý do phải là chuỗi tối đa 200 ký tự.")
        if day in out:
            raise ValidationError(f"{w}.date", f"{day} is listed twice", message_vi=f"{w}: ngày {day} bị lặp.")
        out[day] = Override(date=day, kind=kind, reason=reason.strip())
    return list(out.values())


def load_overrides_json(path: str | Path) -> list[Override]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError("file", f"{path} does not exist", message_vi=f"Không tìm thấy tệp {path}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError("file", f"{path} is not valid JSON: {exc}", message_vi=f"Tệp {path} không phải JSON hợp lệ.") from None
    return parse_overrides(data)


def import_overrides(db: Any, records: Iterable[Override] | Any, *, source: str,
                     replace: bool = False) -> int:
    """Upsert overrides (all or nothing); ``replace=True`` drops every existing one first."""
    if isinstance(records, Mapping):
        items = parse_overrides(records)
    else:
        records = list(records)
        items = records if records and all(isinstance(r, Override) for r in records) else parse_overrides(records)
    access = Access(db)

    def upsert(db: Any) -> None:
        if replace:
            db.execute("DELETE FROM calendar_overrides")
        db["calendar_overrides"].upsert_all([{**o.to_dict(), "source": source} for o in items], pk="date")

    access.write(upsert)
    log.info("calendar overrides imported from %s: %s", source, len(items))
    return len(items)


def load_overrides(db: Any) -> list[Override]:
    """Overrides stored in ``db`` (a ``sqlite_utils.Database`` or an open ``Store``)."""
    return [Override(date=dt.date.fromisoformat(r["date"]), kind=r["kind"], reason=r["reason"])
            for r in Access(db).query("SELECT date, kind, reason FROM calendar_overrides ORDER BY date")]
