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
                        "result_document", "special_rule"})
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
    return Procedure(code=code, name=_text(data, "name", where), field=_text(data, "field", where),
                     channels=tuple(channels), components=tuple(components),
                     agency=_text(data, "agency", where), result_document=_text(data, "result_document", where),
                     special_rule=rule or None)


def validate_catalog(records: Iterable[Procedure | Mapping[str, Any]]) -> list[Procedure]:
    """Validate every record (dicts or :class:`Procedure`); codes must be unique."""
    if isinstance(records, Mapping | str | bytes):
        raise _fail("procedures", "must be a list of procedure records", "Danh mục thủ tục phải là một danh sách.")
    procedures: list[Procedure] = []
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        procedure = record if isinstance(record, Procedure) else _procedure(record, f"procedures[{i}]")
        if procedure.code in seen:
            raise _fail(f"procedures[{i}] ({procedure.code}).code",
                        f"duplicate procedure code (also procedures[{seen[procedure.code]}])",
                        f"Mã thủ tục {procedure.code} bị lặp trong danh mục.")
        seen[procedure.code] = i
        procedures.append(procedure)
    if not procedures:
        raise _fail("procedures", "the catalog is empty", "Danh mục thủ tục đang trống.")
    return procedures


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
    count: int
    sha256: str
    source: str
    imported_at: str


def import_catalog(db: Any, records: Iterable[Procedure | Mapping[str, Any]], *, source: str) -> ImportResult:
    """Validate ``records`` and replace the whole catalog with them in one transaction.

    ``db`` is a ``sqlite_utils.Database`` or an open ``Store``.
    """
    procedures = validate_catalog(records)
    access = Access(db)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    canonical = json.dumps([p.to_dict() for p in procedures], ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    rows = [
        {"code": p.code, "name": p.name, "field": p.field, "agency": p.agency,
         "result_document": p.result_document, "special_rule": p.special_rule or "",
         "data": json.dumps(p.to_dict(), ensure_ascii=False), "source": source, "imported_at": now}
        for p in procedures
    ]

    def replace(db: Any) -> None:
        db.execute("DELETE FROM procedures")
        db["procedures"].insert_all(rows)
        db["catalog_imports"].insert({"source": source, "imported_at": now, "count": len(rows), "sha256": digest})

    access.write(replace)
    log.info("catalog imported from %s: %s procedures", source, len(rows))
    return ImportResult(count=len(rows), sha256=digest, source=source, imported_at=now)


def _row_to_procedure(row: Mapping[str, Any]) -> Procedure:
    return _procedure(json.loads(row["data"]), "procedure")


def get_procedure(db: Any, code: str) -> Procedure:
    """The procedure with this code; :class:`NotFoundError` (with a Vietnamese message) if unknown."""
    rows = Access(db).query("SELECT data FROM procedures WHERE code = ?", [code])
    if not rows:
        raise NotFoundError(f"unknown procedure {code!r}", message_vi=f"Không có thủ tục mã {code} trong danh mục.")
    return _row_to_procedure(rows[0])


def list_procedures(db: Any, *, field: str | None = None, search: str | None = None) -> list[Procedure]:
    """Every procedure, sorted by field then name; optionally one field or a name/code search."""
    sql, params = "SELECT data FROM procedures WHERE 1=1", []
    if field:
        sql += " AND field = ?"
        params.append(_nfc(field))
    procedures = [_row_to_procedure(r) for r in Access(db).query(sql + " ORDER BY field, name, code", params)]
    if search:
        needle = fold(search)
        # a code search matches the code; anything else matches the folded name
        procedures = [p for p in procedures if needle in fold(p.name) or needle in p.code.lower()]
    return procedures


def fold(text: str) -> str:
    """Lower-case ASCII fold of Vietnamese text (diacritics removed, đ → d) for searching."""
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower().strip()
