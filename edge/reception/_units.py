"""Administrative units, two tiers since 1 July 2025: provinces and communes, with their codes.

They are data (the hub's ``admin_units`` feed item, or a file), never code: a list is validated
whole (codes, names, each commune's province) and replaces the stored one in one transaction, so
a bad list writes nothing. A structured address is a province, a commune of it and the street
part; the address printed on a citizen's card stays beside it as printed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import ValidationError

from ._migrations import Access

DEMO_UNITS = Path(__file__).parent / "data" / "demo_units.json"
LEVELS = ("province", "commune")
LEVEL_VI = {"province": "tỉnh/thành phố", "commune": "xã/phường/đặc khu"}
_CODE_RE = {"province": re.compile(r"^\d{2}$"), "commune": re.compile(r"^\d{5}$")}
STREET_LIMIT = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class Unit:
    code: str
    name: str
    level: str  # province | commune
    parent: str = ""  # a commune's province code


def _nfc(value: Any) -> str:
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else ""


def parse_units(items: Any) -> list[Unit]:
    """Validate a whole list of units; the Vietnamese message names the entry and the field."""
    if not isinstance(items, list) or not items:
        raise ValidationError("units", "must be a non-empty list",
                              message_vi="Danh mục đơn vị hành chính phải là một danh sách không rỗng.")
    units: list[Unit] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(items):
        where = f"units[{i}]"
        if not isinstance(raw, Mapping):
            raise ValidationError(where, "must be an object", message_vi=f"{where}: phải là một đối tượng JSON.")
        unknown = sorted(set(raw) - {"code", "name", "level", "parent"})
        if unknown:
            raise ValidationError(f"{where}.{unknown[0]}", "unknown field",
                                  message_vi=f"{where}: trường không hợp lệ '{unknown[0]}'.")
        level = raw.get("level")
        if level not in LEVELS:
            raise ValidationError(f"{where}.level", f"must be one of {', '.join(LEVELS)}",
                                  message_vi=f"{where}: cấp hành chính phải là 'province' (tỉnh) hoặc 'commune' (xã); "
                                             "từ 01/07/2025 không còn cấp huyện.")
        code = raw.get("code")
        if not isinstance(code, str) or not _CODE_RE[level].match(code):
            digits = 2 if level == "province" else 5
            raise ValidationError(f"{where}.code", f"a {level} code has {digits} digits",
                                  message_vi=f"{where}: mã {LEVEL_VI[level]} phải gồm {digits} chữ số.")
        name = _nfc(raw.get("name"))
        if not name or len(name) > 200:
            raise ValidationError(f"{where}.name", "is required (at most 200 characters)",
                                  message_vi=f"{where}: thiếu tên đơn vị hành chính (tối đa 200 ký tự).")
        key = f"{level}:{code}"
        if key in seen:
            raise ValidationError(f"{where}.code", f"code {code} is listed twice (also units[{seen[key]}])",
                                  message_vi=f"Mã đơn vị hành chính {code} bị lặp.")
        seen[key] = i
        parent = raw.get("parent") or ""
        if level == "province" and parent:
            raise ValidationError(f"{where}.parent", "a province has no parent",
                                  message_vi=f"{where}: tỉnh/thành phố không trực thuộc đơn vị nào.")
        units.append(Unit(code=code, name=name, level=level, parent=parent))
    provinces = {u.code for u in units if u.level == "province"}
    for i, unit in enumerate(units):
        if unit.level == "commune" and unit.parent not in provinces:
            raise ValidationError(f"units[{i}].parent", f"unknown province {unit.parent!r}",
                                  message_vi=f"Xã/phường {unit.name} thuộc tỉnh mã “{unit.parent}” "
                                             "không có trong danh mục.")
    return units


def load_units_json(path: str | Path) -> list[Unit]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError("file", f"{path}: {exc}", message_vi=f"Không đọc được tệp danh mục đơn vị {path}.") from None
    return parse_units(data.get("units") if isinstance(data, Mapping) else data)


def import_units(db: Any, items: Iterable[Unit] | list[Any], *, source: str) -> int:
    """Validate, then replace the stored units in one transaction; returns how many."""
    items = list(items)
    units = items if items and all(isinstance(u, Unit) for u in items) else parse_units(items)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def replace(db: Any) -> None:
        db.execute("DELETE FROM admin_units")
        db["admin_units"].insert_all([{"level": u.level, "code": u.code, "name": u.name, "parent": u.parent,
                                       "source": source, "imported_at": now} for u in units])

    Access(db).write(replace)
    return len(units)


def provinces(db: Any) -> list[Unit]:
    return [Unit(**r) for r in Access(db).query(
        "SELECT code, name, level, parent FROM admin_units WHERE level = 'province' ORDER BY name")]


def communes(db: Any, province: str | None = None) -> list[Unit]:
    sql, params = "SELECT code, name, level, parent FROM admin_units WHERE level = 'commune'", []
    if province:
        sql += " AND parent = ?"
        params.append(province)
    return [Unit(**r) for r in Access(db).query(sql + " ORDER BY parent, name", params)]


def check_address(db: Any, *, province: str, commune: str, street: str) -> dict[str, str]:
    """A structured current address: the province, a commune OF that province, the street part.
    All empty is no structured address; a partial one is refused (Vietnamese, naming the field)."""
    province, commune, street = province.strip(), commune.strip(), _nfc(street)
    if not (province or commune or street):
        return {"current_province": "", "current_commune": "", "current_street": ""}
    access = Access(db)
    if not province:
        raise ValidationError("current_province", "choose the province",
                              message_vi="Chọn tỉnh/thành phố của địa chỉ hiện tại.")
    found = access.query("SELECT name FROM admin_units WHERE level = 'province' AND code = ?", [province])
    if not found:
        raise ValidationError("current_province", f"unknown province {province!r}",
                              message_vi=f"Không có tỉnh/thành phố mã “{province}” trong danh mục đơn vị hành chính.")
    if not commune:
        raise ValidationError("current_commune", "choose the commune",
                              message_vi="Chọn xã/phường của địa chỉ hiện tại.")
    row = access.query("SELECT name, parent FROM admin_units WHERE level = 'commune' AND code = ?", [commune])
    if not row:
        raise ValidationError("current_commune", f"unknown commune {commune!r}",
                              message_vi=f"Không có xã/phường mã “{commune}” trong danh mục đơn vị hành chính.")
    if row[0]["parent"] != province:
        raise ValidationError("current_commune", f"commune {commune} is not in province {province}",
                              message_vi=f"{row[0]['name']} không thuộc {found[0]['name']}.")
    if not street or len(street) > STREET_LIMIT:
        raise ValidationError("current_street", "the street part is required (at most 300 characters)",
                              message_vi="Nhập số nhà, đường/thôn của địa chỉ hiện tại (tối đa 300 ký tự).")
    return {"current_province": province, "current_commune": commune, "current_street": street}


def address_text(db: Any, *, province: str, commune: str, street: str) -> str:
    """The structured address as one line: "street, commune, province" (names from the units)."""
    if not province:
        return ""
    names = {(r["level"], r["code"]): r["name"] for r in Access(db).query(
        "SELECT level, code, name FROM admin_units WHERE code IN (?, ?)", [province, commune])}
    return ", ".join(p for p in (street, names.get(("commune", commune), commune),
                                 names.get(("province", province), province)) if p)
