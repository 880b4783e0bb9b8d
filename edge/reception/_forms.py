"""The counter's forms as versioned data: 01 receipt, 02 request to supplement, 03 refusal.

A template (``data/forms.json``) carries its number, title, legal basis, the day it takes effect,
its copies, its paragraphs (with named placeholders) and its signature blocks, so a later circular
is a data change. :func:`form_template` picks the template in force on a day (or the one a
procedure version names in its ``forms``). Forms 02 and 03 print the dossier code as Code 39 and
as QR like the receipt (the header is the receipt's). The PDFs hold personal data: bytes only,
never written to disk by this module. The drawing (reportlab) is ``_draw``'s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import ValidationError

from ._catalog import parse_day
from ._receipt import _check_text, _t, vn_local

FORMS_FILE = Path(__file__).parent / "data" / "forms.json"
NUMBERS = ("01", "02", "03", "04", "05", "06", "07")
#: What a template's paragraphs may name.
PLACEHOLDERS = frozenset({"station_name", "agency_name", "applicant_name", "procedure", "legal_basis", "clerk_name",
                          "station_phone", "code", "reason"})
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,79}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class FormTemplate:
    """One version of one form."""

    id: str
    number: str
    title: str
    legal_basis: str
    effective_from: dt.date
    copies: tuple[str, ...]
    paragraphs: tuple[str, ...]
    closing: tuple[str, ...]
    signatures: tuple[str, ...]


def _strings(value: Any, where: str, key: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value) or (
            not allow_empty and not value):
        raise ValidationError(f"{where}.{key}", "must be a list of non-empty strings",
                              message_vi=f"{where}: trường '{key}' phải là danh sách các dòng chữ.")
    for text in value:
        for _, name, _, _ in string.Formatter().parse(text):
            if name is not None and name not in PLACEHOLDERS:
                raise ValidationError(f"{where}.{key}", f"unknown placeholder {{{name}}}",
                                      message_vi=f"{where}: chỗ điền '{{{name}}}' không được hỗ trợ.")
    return tuple(value)


def parse_templates(data: Any) -> list[FormTemplate]:
    """Validate the templates document; a bad one is refused with the Vietnamese message."""
    if not isinstance(data, Mapping) or not isinstance(data.get("templates"), list):
        raise ValidationError("templates", "expected an object with a 'templates' list",
                              message_vi="Tệp mẫu biểu phải chứa danh sách 'templates'.")
    out: list[FormTemplate] = []
    for i, raw in enumerate(data["templates"]):
        where = f"templates[{i}]"
        if not isinstance(raw, Mapping):
            raise ValidationError(where, "must be an object", message_vi=f"{where}: phải là một đối tượng JSON.")
        unknown = set(raw) - {"id", "number", "title", "legal_basis", "effective_from", "copies", "paragraphs",
                              "closing", "signatures"}
        if unknown:
            raise ValidationError(f"{where}.{sorted(unknown)[0]}", "unknown field",
                                  message_vi=f"{where}: trường không hợp lệ '{sorted(unknown)[0]}'.")
        if not isinstance(raw.get("id"), str) or not _ID_RE.match(raw["id"]):
            raise ValidationError(f"{where}.id", "must be a lower-case id", message_vi=f"{where}: mã mẫu không hợp lệ.")
        if raw.get("number") not in NUMBERS:
            raise ValidationError(f"{where}.number", "must be 01 to 07", message_vi=f"{where}: số mẫu phải từ 01 đến 07.")
        for key in ("title", "legal_basis"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise ValidationError(f"{where}.{key}", "is required", message_vi=f"{where}: thiếu trường '{key}'.")
        out.append(FormTemplate(
            id=raw["id"], number=raw["number"], title=raw["title"].strip(), legal_basis=raw["legal_basis"].strip(),
            effective_from=parse_day(raw.get("effective_from"), where, "effective_from"),
            copies=_strings(raw.get("copies"), where, "copies", allow_empty=False),
            paragraphs=_strings(raw.get("paragraphs", []), where, "paragraphs"),
            closing=_strings(raw.get("closing", []), where, "closing"),
            signatures=_strings(raw.get("signatures"), where, "signatures", allow_empty=False)))
    ids = [t.id for t in out]
    if len(set(ids)) != len(ids):
        raise ValidationError("templates", "an id appears twice", message_vi="Mã mẫu biểu bị lặp.")
    return out


@functools.cache
def templates() -> tuple[FormTemplate, ...]:
    """The templates shipped with the box (a later circular: a new entry with its date)."""
    return tuple(parse_templates(json.loads(FORMS_FILE.read_text(encoding="utf-8"))))


def form_template(number: str, *, at: dt.date, procedure: Any = None) -> FormTemplate:
    """The template of form ``number`` in force on ``at``; a procedure version's own choice wins."""
    chosen = dict(getattr(procedure, "forms", ()) or ()).get(number)
    candidates = [t for t in templates() if t.number == number]
    if chosen:
        for t in candidates:
            if t.id == chosen:
                return t
    in_force = sorted((t for t in candidates if t.effective_from <= at), key=lambda t: t.effective_from)
    if not in_force:
        raise ValidationError("form", f"no template of form {number} in force on {at}",
                              message_vi=f"Chưa có mẫu số {number} có hiệu lực vào ngày {at:%d/%m/%Y}.")
    return in_force[-1]


# --------------------------------------------------------------------------- the two counter forms


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplementItem:
    """One component to supplement or correct, and what is missing or wrong with it."""

    component: str  # the component's code in the procedure version
    name: str
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterFormData:
    """What forms 02 and 03 print (the header fields are the receipt's)."""

    agency_name: str
    station_name: str
    code: str
    applicant_name: str
    procedure_name: str
    received_at: dt.datetime  # when the form is issued (the date line)
    clerk_name: str
    place: str = ""
    procedure_code: str = ""
    station_phone: str = ""
    tracking_url: str = ""
    reason: str = ""  # form 03
    legal_basis: str = ""  # form 03: the provision the refusal rests on
    items: tuple[SupplementItem, ...] = ()  # form 02


def _fill(text: str, values: Mapping[str, str]) -> str:
    """A template line with its placeholders filled (escaped for the PDF); the values as bold."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(text):
        out.append(_t(literal))
        if name is not None:
            value = values.get(name, "")
            out.append(f"<b>{_t(value)}</b>" if value and name not in ("station_phone",) else _t(value) or "……")
    return "".join(out)


def check_form(template: FormTemplate, data: CounterFormData) -> CounterFormData:
    """Form 02 or 03's data as it will be drawn (the date in Vietnam time), or the clerk's error."""
    data = dataclasses.replace(data, received_at=vn_local(data.received_at))
    _check_text(data, ("agency_name", "station_name", "code", "applicant_name", "procedure_name", "clerk_name"))
    if template.number == "03" and not data.reason.strip():
        raise ValidationError("reason", "a refusal needs its reason",
                              message_vi="Phiếu từ chối phải ghi rõ lý do từ chối tiếp nhận hồ sơ.")
    if template.number == "02" and not data.items:
        raise ValidationError("items", "a supplement request needs at least one item",
                              message_vi="Phiếu yêu cầu bổ sung phải nêu ít nhất một thành phần hồ sơ cần bổ sung.")
    return data
