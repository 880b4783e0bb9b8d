"""The procedure catalog (thủ tục hành chính): validated records, stored locally in SQLite.

A catalog arrives as JSON (a file, or later the city's sync feed). Every record is validated
before anything is written; the whole catalog is then replaced in one transaction, so a bad
record never leaves a half-imported catalog behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core import labels
from core.vntime import VN_TZ
from edge.errors import NotFoundError, ValidationError

from ._migrations import Access

log = logging.getLogger(__name__)

CHANNELS = ("direct", "online", "postal")
TIME_UNITS = ("working_days", "working_hours")
COMPONENT_KINDS = ("original", "certified_copy", "photocopy")
CHANNEL_VI = labels.CHANNEL_VI
KIND_VI = labels.DOCUMENT_KIND_VI
UNIT_VI = labels.TIME_UNIT_VI

_CODE_RE = re.compile(r"^\d\.\d{6}(\.\d{3}\.\d{2}\.\d{2}\.H\d{2})?$")
_COMPONENT_CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_RULE_RE = re.compile(r"^same_day_cutoff_(\d{1,2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORM_NO_RE = re.compile(r"^0[1-7]$")
#: The stored end of an open-ended version (ISO text compares as dates).
OPEN_END = "9999-12-31"


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def parse_day(value: Any, where: str, key: str = "date") -> dt.date:
    """A calendar day written YYYY-MM-DD; anything else is refused with the Vietnamese message."""
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise ValidationError(f"{where}.{key}", f"must be a date YYYY-MM-DD, got {value!r}",
                              message_vi=f"{where}: ngày '{value}' không đúng định dạng YYYY-MM-DD "
                                         "(ví dụ 2025-07-01).")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{where}.{key}", f"is not a real date: {value!r}",
                              message_vi=f"{where}: ngày '{value}' không có thật trong lịch.") from None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessingTime:
    """How long the agency has: a number of working days or working hours."""

    value: float
    unit: Literal["working_days", "working_hours"]

    def kwargs(self) -> dict[str, float]:
        """Arguments for :func:`edge.reception.due` (``days=`` or ``hours=``)."""
        return {"days": self.value} if self.unit == "working_days" else {"hours": self.value}

    def text_vi(self) -> str:
        value = int(self.value) if float(self.value).is_integer() else self.value
        return f"{value} {UNIT_VI[self.unit]}"

    def to_dict(self) -> dict[str, Any]:
        value = int(self.value) if float(self.value).is_integer() else self.value
        return {"value": value, "unit": self.unit}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fee:
    """One fee or charge line (lệ phí / phí): an amount in VND per unit."""

    amount: int
    unit: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit, "description": self.description}


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """One required paper (thành phần hồ sơ)."""

    code: str
    name: str
    kind: Literal["original", "certified_copy", "photocopy"]
    count: int
    required: bool

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "count": self.count,
                "required": self.required}


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A way to submit (direct, online, postal) with its processing time and fees."""

    kind: Literal["direct", "online", "postal"]
    processing_time: ProcessingTime
    fees: tuple[Fee, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "processing_time": self.processing_time.to_dict(),
                "fees": [f.to_dict() for f in self.fees]}


@dataclass(frozen=True, slots=True, kw_only=True)
class Procedure:
    """An administrative procedure as the counter needs it."""

    code: str
    name: str
    field: str
    channels: tuple[Channel, ...]
    components: tuple[Component, ...]
    agency: str
    result_document: str
    special_rule: str | None = None
    #: The version: in force from ``effective_from`` (a Vietnam calendar day, from 00:00) to
    #: ``effective_to`` (the last day, until 24:00), either end open when None.
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    #: The decision that published this version (số, ngày, cơ quan ban hành).
    decision: str = ""
    #: Form number (01, 02, 03 …) → form template id, where this version names its own forms.
    forms: tuple[tuple[str, str], ...] = ()

    @property
    def version_label(self) -> str:
        """How a person reads the version: "từ 01/07/2025" (or "không thời hạn")."""
        if self.effective_from is None and self.effective_to is None:
            return "không thời hạn"
        parts = []
        if self.effective_from:
            parts.append(f"từ {self.effective_from:%d/%m/%Y}")
        if self.effective_to:
            parts.append(f"đến hết {self.effective_to:%d/%m/%Y}")
        return " ".join(parts)

    def sha256(self) -> str:
        """The version's fingerprint (its canonical record): what a dossier records."""
        canonical = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def version_ref(self) -> dict[str, Any]:
        """What a dossier records of the version it was received under (non-personal)."""
        return {"effective_from": _iso(self.effective_from), "effective_to": _iso(self.effective_to),
                "decision": self.decision, "sha256": self.sha256()}

    def in_force(self, day: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to)

    def channel(self, kind: str = "direct") -> Channel:
        for channel in self.channels:
            if channel.kind == kind:
                return channel
        offered = ", ".join(c.kind for c in self.channels)
        raise ValidationError(
            "channel", f"procedure {self.code} is not offered through '{kind}' (offered: {offered})",
            message_vi=f"Thủ tục {self.code} không tiếp nhận qua kênh {CHANNEL_VI.get(kind, kind)}.")

    def component(self, code: str) -> Component:
        for component in self.components:
            if component.code == code:
                return component
        raise ValidationError("component", f"procedure {self.code} has no component '{code}'",
                              message_vi=f"Thủ tục {self.code} không có thành phần hồ sơ '{code}'.")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code, "name": self.name, "field": self.field,
            "channels": [c.to_dict() for c in self.channels],
            "components": [c.to_dict() for c in self.components],
            "agency": self.agency, "result_document": self.result_document,
        }
        if self.special_rule:
            data["special_rule"] = self.special_rule
        if self.effective_from:
            data["effective_from"] = self.effective_from.isoformat()
        if self.effective_to:
            data["effective_to"] = self.effective_to.isoformat()
        if self.decision:
            data["decision"] = self.decision
        if self.forms:
            data["forms"] = dict(self.forms)
        return data

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "procedure") -> Procedure:
        """Validate one record; errors name the record and the field."""
        return _procedure(data, where)


# ---------------------------------------------------------------- validation


def _fail(where: str, message: str, message_vi: str) -> ValidationError:
    return ValidationError(where, message, message_vi=message_vi)


def _obj(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _fail(where, f"must be a JSON object, got {type(data).__name__}",
                    f"{where}: phải là một đối tượng JSON.")
    return data


def _keys(data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(allowed))})",
                    f"{where}: trường không hợp lệ '{unknown[0]}'.")


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = True, limit: int = 500) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise _fail(f"{where}.{key}", "is required", f"{where}: thiếu trường '{key}'.")
        return ""
    if not isinstance(value, str):
        raise _fail(f"{where}.{key}", f"must be a string, got {type(value).__name__}",
                    f"{where}: trường '{key}' phải là chuỗi ký tự.")
    value = _nfc(value)
    if required and not value:
        raise _fail(f"{where}.{key}", "is empty", f"{where}: trường '{key}' đang để trống.")
    if len(value) > limit:
        raise _fail(f"{where}.{key}", f"is longer than {limit} characters",
                    f"{where}: trường '{key}' dài quá {limit} ký tự.")
    return value


def _int(data: Mapping[str, Any], key: str, where: str, *, default: int | None = None, minimum: int = 0) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{where}.{key}", f"must be an integer, got {value!r}",
                    f"{where}: trường '{key}' phải là số nguyên.")
    if value < minimum:
        raise _fail(f"{where}.{key}", f"must be at least {minimum}, got {value}",
                    f"{where}: trường '{key}' phải lớn hơn hoặc bằng {minimum}.")
    return value


def _list(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> list[Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise _fail(f"{where}.{key}", "is required", f"{where}: thiếu trường '{key}'.")
        return []
    if not isinstance(value, list):
        raise _fail(f"{where}.{key}", "must be a list", f"{where}: trường '{key}' phải là một danh sách.")
    return value


def _choice(data: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...]) -> str:
    value = data.get(key)
    if value not in choices:
        raise _fail(f"{where}.{key}", f"must be one of {', '.join(choices)}, got {value!r}",
                    f"{where}: trường '{key}' phải là một trong: {', '.join(choices)}.")
    return value


def _processing_time(data: Any, where: str) -> ProcessingTime:
    data = _obj(data, where)
    _keys(data, where, {"value", "unit"})
    value = data.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(f"{where}.value", f"must be a positive number, got {value!r}",
                    f"{where}: thời hạn giải quyết phải là số dương.")
    if value > 3650:
        raise _fail(f"{where}.value", f"is implausibly long ({value})",
                    f"{where}: thời hạn giải quyết quá dài.")
    unit = _choice(data, "unit", where, TIME_UNITS)
    return ProcessingTime(value=value, unit=unit)  # type: ignore[arg-type]


def _fee(data: Any, where: str) -> Fee:
    data = _obj(data, where)
    _keys(data, where, {"amount", "unit", "description"})
    return Fee(amount=_int(data, "amount", where), unit=_text(data, "unit", where, limit=50),
               description=_text(data, "description", where, required=False))


def _fees(items: list[Any], where: str) -> tuple[Fee, ...]:
    return tuple(_fee(item, f"{where}[{i}]") for i, item in enumerate(items))


def _component(data: Any, where: str) -> Component:
    data = _obj(data, where)
    _keys(data, where, {"code", "name", "kind", "count", "required"})
    code = _text(data, "code", where, limit=40)
    if not _COMPONENT_CODE_RE.match(code):
        raise _fail(f"{where}.code", f"must be 1-40 letters, digits, '.', '_' or '-', got {code!r}",
                    f"{where}: mã thành phần hồ sơ không hợp lệ.")
    required = data.get("required", True)
    if not isinstance(required, bool):
        raise _fail(f"{where}.required", "must be true or false", f"{where}: trường 'required' phải là true hoặc false.")
    return Component(code=code, name=_text(data, "name", where), kind=_choice(data, "kind", where, COMPONENT_KINDS),  # type: ignore[arg-type]
                     count=_int(data, "count", where, default=1, minimum=1), required=required)


def _procedure(data: Any, where: str) -> Procedure:
    data = _obj(data, where)
    code = data.get("code")
    if isinstance(code, str) and code:
        where = f"{where} ({code})"
    _keys(data, where, {"code", "name", "field", "channels", "fees", "components", "agency",
                        "result_document", "special_rule", "effective_from", "effective_to", "decision",
                        "forms"})
    code = _text(data, "code", where, limit=40)
    if not _CODE_RE.match(code):
        raise _fail(f"{where}.code", "must look like 1.001612 or 1.001612.000.00.00.H26",
                    f"{where}: mã thủ tục phải có dạng 1.001612 hoặc 1.001612.000.00.00.H26.")
    default_fees = _fees(_list(data, "fees", where, required=False), f"{where}.fees")
    channels: list[Channel] = []
    raw_channels = _list(data, "channels", where)
    if not raw_channels:
        raise _fail(f"{where}.channels", "needs at least one channel", f"{where}: cần ít nhất một kênh tiếp nhận.")
    for i, raw in enumerate(raw_channels):
        cw = f"{where}.channels[{i}]"
        raw = _obj(raw, cw)
        _keys(raw, cw, {"kind", "processing_time", "fees"})
        kind = _choice(raw, "kind", cw, CHANNELS)
        if any(c.kind == kind for c in channels):
            raise _fail(f"{cw}.kind", f"channel '{kind}' is listed twice", f"{cw}: kênh '{kind}' bị lặp.")
        fees = _fees(_list(raw, "fees", cw), f"{cw}.fees") if "fees" in raw else default_fees
        channels.append(Channel(kind=kind, processing_time=_processing_time(raw.get("processing_time"), f"{cw}.processing_time"),  # type: ignore[arg-type]
                                fees=fees))
    components: list[Component] = []
    for i, raw in enumerate(_list(data, "components", where)):
        component = _component(raw, f"{where}.components[{i}]")
        if any(c.code == component.code for c in components):
            raise _fail(f"{where}.components[{i}].code", f"component code '{component.code}' is listed twice",
                        f"{where}: mã thành phần '{component.code}' bị lặp.")
        components.append(component)
    rule = data.get("special_rule")
    if rule is not None:
        if not isinstance(rule, str) or not (m := _RULE_RE.match(rule)) or not 0 < int(m.group(1)) < 24:
            raise _fail(f"{where}.special_rule", f"unknown rule {rule!r} (known: same_day_cutoff_HH, e.g. same_day_cutoff_15)",
                        f"{where}: quy tắc đặc biệt không hợp lệ.")
    start = parse_day(data["effective_from"], where, "effective_from") if data.get("effective_from") is not None else None
    end = parse_day(data["effective_to"], where, "effective_to") if data.get("effective_to") is not None else None
    if start and end and end < start:
        raise _fail(f"{where}.effective_to", f"ends ({end}) before it starts ({start})",
                    f"{where}: ngày hết hiệu lực {end:%d/%m/%Y} trước ngày có hiệu lực {start:%d/%m/%Y}.")
    forms = data.get("forms") or {}
    if not isinstance(forms, Mapping) or not all(
            isinstance(k, str) and _FORM_NO_RE.match(k) and isinstance(v, str) and 0 < len(v) <= 80
            for k, v in forms.items()):
        raise _fail(f"{where}.forms", "must map form numbers 01-07 to template ids",
                    f"{where}: trường 'forms' phải ánh xạ số mẫu (01–07) sang mã mẫu biểu.")
    return Procedure(code=code, name=_text(data, "name", where), field=_text(data, "field", where),
                     channels=tuple(channels), components=tuple(components),
                     agency=_text(data, "agency", where), result_document=_text(data, "result_document", where),
                     special_rule=rule or None, effective_from=start, effective_to=end,
                     decision=_text(data, "decision", where, required=False),
                     forms=tuple(sorted(forms.items())))


def validate_catalog(records: Iterable[Procedure | Mapping[str, Any]]) -> list[Procedure]:
    """Validate every record (dicts or :class:`Procedure`).

    A code may appear several times: its versions. They must follow each other without overlap
    or gap: each starts the day after the previous one ends (a version without ``effective_to``
    ends the day before the next one starts, so the city can publish a version ahead of time)."""
    if isinstance(records, Mapping | str | bytes):
        raise _fail("procedures", "must be a list of procedure records", "Danh mục thủ tục phải là một danh sách.")
    procedures: list[Procedure] = []
    seen: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        procedure = record if isinstance(record, Procedure) else _procedure(record, f"procedures[{i}]")
        for j in seen.get(procedure.code, []):
            if procedures[j].effective_from == procedure.effective_from:
                if procedure.effective_from is None:
                    raise _fail(f"procedures[{i}] ({procedure.code}).code",
                                f"duplicate procedure code (also procedures[{j}])",
                                f"Mã thủ tục {procedure.code} bị lặp trong danh mục.")
                raise _fail(f"procedures[{i}] ({procedure.code}).effective_from",
                            f"two versions start on {procedure.effective_from} (also procedures[{j}])",
                            f"Thủ tục {procedure.code} có hai phiên bản cùng có hiệu lực từ "
                            f"{procedure.effective_from:%d/%m/%Y}: các phiên bản chồng lấn nhau.")
        seen.setdefault(procedure.code, []).append(i)
        procedures.append(procedure)
    if not procedures:
        raise _fail("procedures", "the catalog is empty", "Danh mục thủ tục đang trống.")
    for code, indexes in seen.items():
        _check_versions(code, [procedures[i] for i in indexes])
    return procedures


def _check_versions(code: str, versions: list[Procedure]) -> None:
    """Versions of one code: no overlap, no gap (precise Vietnamese messages)."""
    if len(versions) < 2:
        return
    ordered = sorted(versions, key=lambda p: p.effective_from or dt.date.min)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        start = later.effective_from
        if start is None:  # only one version can be open at its start (two are duplicates)
            continue
        if earlier.effective_to is None:
            continue  # ends the day before ``start``
        if earlier.effective_to >= start:
            raise _fail(f"procedures ({code}).effective_to",
                        f"versions overlap: one runs to {earlier.effective_to}, the next starts {start}",
                        f"Các phiên bản của thủ tục {code} chồng lấn nhau: phiên bản "
                        f"{earlier.version_label} còn hiệu lực khi phiên bản từ {start:%d/%m/%Y} đã bắt đầu.")
        if earlier.effective_to + dt.timedelta(days=1) < start:
            gap_from = earlier.effective_to + dt.timedelta(days=1)
            raise _fail(f"procedures ({code}).effective_from",
                        f"a gap between versions: {gap_from} to {start - dt.timedelta(days=1)} has none",
                        f"Giữa các phiên bản của thủ tục {code} có khoảng trống: từ {gap_from:%d/%m/%Y} đến "
                        f"{start - dt.timedelta(days=1):%d/%m/%Y} không có phiên bản nào có hiệu lực.")


def _ends(procedures: list[Procedure]) -> dict[tuple[str, str], str]:
    """The stored last day of each version (explicit, the day before the next, or open)."""
    by_code: dict[str, list[Procedure]] = {}
    for p in procedures:
        by_code.setdefault(p.code, []).append(p)
    ends: dict[tuple[str, str], str] = {}
    for code, versions in by_code.items():
        ordered = sorted(versions, key=lambda p: p.effective_from or dt.date.min)
        for i, p in enumerate(ordered):
            nxt = ordered[i + 1] if i + 1 < len(ordered) else None
            if p.effective_to:
                end = p.effective_to.isoformat()
            elif nxt is not None and nxt.effective_from:
                end = (nxt.effective_from - dt.timedelta(days=1)).isoformat()
            else:
                end = OPEN_END
            ends[(code, _iso(p.effective_from) or "")] = end
    return ends


def load_catalog_json(path: str | Path) -> list[Procedure]:
    """Read and validate a catalog file: a JSON list, or an object with a ``procedures`` list."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail("file", f"{path} does not exist", f"Không tìm thấy tệp {path}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail("file", f"{path} is not valid UTF-8 JSON: {exc}", f"Tệp {path} không phải JSON hợp lệ.") from None
    if isinstance(data, Mapping):
        if "procedures" not in data:
            raise _fail("procedures", f"{path}: expected a list or an object with 'procedures'",
                        "Tệp danh mục phải chứa danh sách 'procedures'.")
        data = data["procedures"]
    return validate_catalog(data)


# ---------------------------------------------------------------- storage


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    count: int  # procedures (distinct codes)
    sha256: str
    source: str
    imported_at: str
    versions: int = 0  # version records (a procedure with a future version counts twice)


def import_catalog(db: Any, records: Iterable[Procedure | Mapping[str, Any]], *, source: str) -> ImportResult:
    """Validate ``records`` and replace the whole catalog with them in one transaction.

    Every version is kept (``procedure_versions``), so a box switches on an effective date by
    itself, offline; every version ever imported stays in ``procedure_archive`` under its
    fingerprint, so a dossier's receipt and forms follow the version it was received under even
    after the city drops that version. ``db`` is a ``sqlite_utils.Database`` or an open ``Store``.
    """
    procedures = validate_catalog(records)
    access = Access(db)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    canonical = json.dumps([p.to_dict() for p in procedures], ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    ends = _ends(procedures)
    today = _today(db)
    current: dict[str, Procedure] = {}
    for p in sorted(procedures, key=lambda p: p.effective_from or dt.date.min):
        # the code's row: the version in force today, else the first one still to come
        if p.code not in current or (not current[p.code].in_force(today) and p.in_force(today)):
            current[p.code] = p
    rows = [
        {"code": p.code, "name": p.name, "field": p.field, "agency": p.agency,
         "result_document": p.result_document, "special_rule": p.special_rule or "",
         "data": json.dumps(p.to_dict(), ensure_ascii=False), "source": source, "imported_at": now}
        for p in current.values()
    ]
    versions = [
        {"code": p.code, "effective_from": _iso(p.effective_from) or "", "effective_end": ends[(p.code, _iso(p.effective_from) or "")],
         "data": json.dumps(p.to_dict(), ensure_ascii=False), "sha256": p.sha256()}
        for p in procedures
    ]

    def replace(db: Any) -> None:
        db.execute("DELETE FROM procedures")
        db["procedures"].insert_all(rows)
        db.execute("DELETE FROM procedure_versions")
        db["procedure_versions"].insert_all(versions)
        for v in versions:
            db.execute("INSERT OR IGNORE INTO procedure_archive(sha256, code, effective_from, data, first_seen) "
                       "VALUES (?, ?, ?, ?, ?)", (v["sha256"], v["code"], v["effective_from"], v["data"], now))
        db["catalog_imports"].insert({"source": source, "imported_at": now, "count": len(rows), "sha256": digest})

    access.write(replace)
    log.info("catalog imported from %s: %s procedures, %s versions", source, len(rows), len(versions))
    return ImportResult(count=len(rows), sha256=digest, source=source, imported_at=now, versions=len(versions))


def _today(db: Any) -> dt.date:
    """Today in Vietnam by the store's corrected clock (the OS clock for a bare database)."""
    return as_day(None, db)


def as_day(at: dt.date | dt.datetime | None, db: Any = None) -> dt.date:
    """The Vietnam calendar day of ``at`` (a naive datetime is Vietnam time); None: today."""
    if at is None:
        now = getattr(db, "now", None)
        at = now() if callable(now) else dt.datetime.now(VN_TZ)
    if isinstance(at, dt.datetime):
        return (at.astimezone(VN_TZ) if at.tzinfo else at).date()
    return at


class NotInForceError(NotFoundError):
    """The procedure is in the catalog, but no version of it is in force on that day."""


def _row_to_procedure(row: Mapping[str, Any]) -> Procedure:
    return _procedure(json.loads(row["data"]), "procedure")


def get_procedure(db: Any, code: str, *, at: dt.date | dt.datetime | None = None) -> Procedure:
    """The version of procedure ``code`` in force on the Vietnam day of ``at`` (default: today by
    the store's clock); :class:`NotFoundError` (with a Vietnamese message) if unknown then."""
    day = as_day(at, db)
    access = Access(db)
    rows = access.query("SELECT data FROM procedure_versions WHERE code = ? AND effective_from <= ? "
                        "AND ? <= effective_end", [code, day.isoformat(), day.isoformat()])
    if rows:
        return _row_to_procedure(rows[0])
    known = access.query("SELECT effective_from, effective_end FROM procedure_versions WHERE code = ? "
                         "ORDER BY effective_from", [code])
    if not known:
        raise NotFoundError(f"unknown procedure {code!r}", message_vi=f"Không có thủ tục mã {code} trong danh mục.")
    if known[0]["effective_from"] > day.isoformat():
        first = dt.date.fromisoformat(known[0]["effective_from"])
        raise NotInForceError(f"procedure {code!r} is not in force on {day} (from {first})",
                            message_vi=f"Thủ tục {code} chưa có hiệu lực vào ngày {day:%d/%m/%Y} "
                                       f"(có hiệu lực từ {first:%d/%m/%Y}).")
    raise NotInForceError(f"procedure {code!r} is no longer in force on {day}",
                        message_vi=f"Thủ tục {code} đã hết hiệu lực vào ngày {day:%d/%m/%Y}.")


def procedure_versions(db: Any, code: str) -> list[Procedure]:
    """Every version of ``code`` in the catalog, oldest first."""
    return [_row_to_procedure(r) for r in Access(db).query(
        "SELECT data FROM procedure_versions WHERE code = ? ORDER BY effective_from", [code])]


def archived_procedure(db: Any, sha256: str) -> Procedure | None:
    """A version by its fingerprint, even one the catalog no longer lists (None if never seen)."""
    rows = Access(db).query("SELECT data FROM procedure_archive WHERE sha256 = ?", [sha256])
    return _row_to_procedure(rows[0]) if rows else None


def list_procedures(db: Any, *, field: str | None = None, search: str | None = None,
                    at: dt.date | dt.datetime | None = None) -> list[Procedure]:
    """Every procedure in force on the day of ``at`` (default today), sorted by field then name;
    optionally one field or a name/code search."""
    day = as_day(at, db).isoformat()
    procedures = [_row_to_procedure(r) for r in Access(db).query(
        "SELECT data FROM procedure_versions WHERE effective_from <= ? AND ? <= effective_end", [day, day])]
    if field:
        procedures = [p for p in procedures if p.field == _nfc(field)]
    procedures.sort(key=lambda p: (p.field, p.name, p.code))
    if search:
        needle = fold(search)
        # a code search matches the code; anything else matches the folded name
        procedures = [p for p in procedures if needle in fold(p.name) or needle in p.code.lower()]
    return procedures


def fold(text: str) -> str:
    """Lower-case ASCII fold of Vietnamese text (diacritics removed, đ → d) for searching."""
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower().strip()
