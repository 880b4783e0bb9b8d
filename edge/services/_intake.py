"""Intake: the catalog as the clerk picks from it, the applicant, drafts and their checklist.

Validation comes first, with Vietnamese messages naming the field, so that nothing is written
when a field is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.codes import CodeError, is_ascii_digits, normalize_digits, parse_dossier_code
from edge import reception
from edge.errors import NotFoundError, StoreError, ValidationError
from edge.store import Applicant, Dossier, Store

APPLICANT_FIELDS = ("full_name", "id_number", "old_id_number", "date_of_birth", "gender", "address",
                    "phone", "email", "current_province", "current_commune", "current_street")
CHANNELS = ("direct", "online", "postal")
NOTE_LIMIT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecklistItem:
    """One required (or optional) paper of the procedure, and the pages scanned for it."""

    code: str
    name: str
    kind: str
    count: int
    required: bool
    pages: int

    @property
    def complete(self) -> bool:
        return self.pages > 0

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "count": self.count,
                "required": self.required, "pages": self.pages, "complete": self.complete}


# --------------------------------------------------------------------------- catalog


def has_catalog(store: Store) -> bool:
    return bool(reception.list_procedures(store))


def list_procedures(store: Store, search: str | None = None) -> list[reception.Procedure]:
    return reception.list_procedures(store, search=search or None)


def get_procedure(store: Store, code: str, *, field: str = "procedure_code", at: Any = None) -> reception.Procedure:
    """The version of ``code`` in force at ``at`` (default: now by the store's clock)."""
    code = (code or "").strip()
    if not code:
        raise ValidationError(field, "is required", message_vi="Vui lòng chọn thủ tục hành chính.")
    try:
        return reception.get_procedure(store, code, at=at)
    except reception.NotInForceError as exc:
        raise ValidationError(field, str(exc), message_vi=exc.message_vi) from None
    except (NotFoundError, ValidationError, KeyError, LookupError):
        raise ValidationError(field, f"unknown procedure {code!r}",
                              message_vi=f"Không có thủ tục mã “{code}” trong danh mục của trạm.") from None


def recorded_procedure(store: Store, dossier: Dossier) -> reception.Procedure | None:
    """The version a received dossier was received under, even after the catalog changed; for a
    draft, the version in force now."""
    return reception.recorded_version(store, dossier)



def documents_of(procedure: reception.Procedure, *, provided: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The documents rows of a dossier of ``procedure``; ``provided``: components with pages."""
    return [{"component": c.code, "name": c.name, "kind": c.kind, "count": c.count,
             "provided": c.code in provided} for c in procedure.components]


# --------------------------------------------------------------------------- applicant


def applicant_values(data: Any) -> dict[str, str]:
    """The applicant fields as strings (for re-rendering a form exactly as typed)."""
    values: dict[str, str] = {}
    for key in APPLICANT_FIELDS:
        value = data.get(key, "") if hasattr(data, "get") else ""
        values[key] = value.strip()[:500] if isinstance(value, str) else ""
    return values


# Typed by a clerk (or filled from a card): Unicode digits (full-width, Arabic-Indic …) become ASCII.
_DIGIT_FIELDS = ("id_number", "old_id_number", "date_of_birth", "phone")


def parse_applicant(values: Mapping[str, Any], *, today: Any, store: Store | None = None) -> Applicant:
    """Validate what a person typed; raises ValidationError naming the field, in Vietnamese.

    ``address`` is kept as printed on the card; with ``store``, the structured current address
    (province, commune of it, street) is checked against the administrative units."""
    cleaned = {k: v for k, v in values.items() if k in APPLICANT_FIELDS}
    if store is not None:
        cleaned.update(reception.check_address(
            store, **{k.removeprefix("current_"): v if isinstance(v := cleaned.get(k, ""), str) else ""
                      for k in ("current_province", "current_commune", "current_street")}))
    for key in _DIGIT_FIELDS:
        if isinstance(cleaned.get(key), str):
            cleaned[key] = normalize_digits(cleaned[key])
    id_number = cleaned.get("id_number", "")
    if isinstance(id_number, str):
        cleaned["id_number"] = re.sub(r"[\s.]", "", id_number)
        if not cleaned["id_number"]:
            raise ValidationError("id_number", "is required", message_vi="Vui lòng nhập số CCCD (12 chữ số).")
        if not is_ascii_digits(cleaned["id_number"]):
            raise ValidationError("id_number", "must hold digits only",
                                  message_vi="Số CCCD chỉ gồm chữ số (12 chữ số), không có chữ cái hay ký hiệu.")
        if len(cleaned["id_number"]) != 12:
            raise ValidationError("id_number", f"must be 12 digits, got {len(cleaned['id_number'])}",
                                  message_vi=f"Số CCCD phải gồm đúng 12 chữ số (đã nhập {len(cleaned['id_number'])} chữ số).")
    return Applicant.from_dict(cleaned, today=today)


def parse_channel(value: Any, procedure: reception.Procedure) -> str:
    channel = value if isinstance(value, str) and value else "direct"
    if channel not in CHANNELS:
        raise ValidationError("channel", f"unknown channel {channel!r}", message_vi="Kênh tiếp nhận không hợp lệ.")
    procedure.channel(channel)  # raises with the Vietnamese message when not offered
    return channel


def intake_form(channel: str, note: str = "") -> dict[str, Any]:
    """The sealed form of a dossier: how it came in and the clerk's note."""
    return {"channel": channel, "note": note[:NOTE_LIMIT]}


# --------------------------------------------------------------------------- drafts


def create_draft(store: Store, *, actor: str, procedure_code: str, applicant: Mapping[str, Any],
                 channel: str = "direct", note: str = "", supplement_of: str = "") -> str:
    """Validate everything first (nothing is written when a field is wrong), then create.

    ``supplement_of``: the code of the form 02 this draft completes (recorded in its meta; the
    dossier is received under a new code)."""
    procedure = get_procedure(store, procedure_code)
    person = parse_applicant(applicant, today=store.now().date(), store=store)
    channel = parse_channel(channel, procedure)
    earlier = check_supplement_of(store, supplement_of, procedure.code) if supplement_of else ""

    def run(_conn: Any) -> str:
        dossier_id = store.create_draft(procedure_code=procedure.code, applicant=person,
                                        form=intake_form(channel, note), actor=actor,
                                        documents=documents_of(procedure))
        if earlier:
            store.set_meta(dossier_id, actor=actor, supplement_of=earlier)
        return dossier_id

    return store.write(run)


def outcome_of(dossier: Dossier) -> str:
    """received, refused or supplement_requested (a draft: "")."""
    if dossier.status == "draft":
        return ""
    return (dossier.meta or {}).get("outcome", "received")


def check_supplement_of(store: Store, code: Any, procedure_code: str) -> str:
    """The code of form 02 a new draft completes. Any box takes a well-formed code (the first one
    may be elsewhere and offline); a code this box issued must be its request for the same
    procedure."""
    text = normalize_digits(code.strip()) if isinstance(code, str) else ""
    try:
        text = reception.code_from_scan(text)
        parse_dossier_code(text)
    except (ValidationError, CodeError):
        raise ValidationError("supplement_of", f"{code!r} is not a dossier code",
                              message_vi=f"“{code}” không phải mã hồ sơ của phiếu yêu cầu bổ sung "
                                         "(dạng 000.00.06.H56-270203-0007).") from None
    found = store.find_by_code(text)
    if found is not None:
        earlier = store.get(found.id)
        if outcome_of(earlier) != "supplement_requested":
            raise ValidationError("supplement_of", f"{text} is not a request to supplement",
                                  message_vi=f"Hồ sơ {text} không phải hồ sơ đã yêu cầu bổ sung.")
        if earlier.procedure_code != procedure_code:
            raise ValidationError("supplement_of", f"{text} is a dossier of {earlier.procedure_code}",
                                  message_vi=f"Hồ sơ {text} thuộc thủ tục {earlier.procedure_code}, "
                                             f"không phải thủ tục {procedure_code}.")
    return text


def require_draft(dossier: Dossier) -> None:
    if dossier.status != "draft":
        raise StoreError("only a draft can be changed", message_vi="Hồ sơ đã hoàn tất tiếp nhận, không thể sửa.")


def update_draft(store: Store, dossier_id: str, *, actor: str, procedure_code: str | None = None,
                 applicant: Mapping[str, Any] | None = None, channel: str | None = None,
                 note: str | None = None) -> None:
    dossier = store.get(dossier_id)
    require_draft(dossier)
    procedure = get_procedure(store, procedure_code or dossier.procedure_code)
    person = parse_applicant(applicant, today=store.now().date(), store=store) if applicant is not None else None
    form = dict(dossier.form)
    if channel is not None:
        form["channel"] = parse_channel(channel, procedure)
    if note is not None:
        form["note"] = note[:NOTE_LIMIT]
    changed_procedure = procedure.code != dossier.procedure_code
    documents = None
    if changed_procedure:
        documents = documents_of(procedure, provided=frozenset(p.component for p in dossier.pages))
    store.update_draft(dossier_id, actor=actor, applicant=person, form=form,
                       procedure_code=procedure.code if changed_procedure else None, documents=documents)


def checklist_from_counts(counts: Mapping[str, int], procedure: reception.Procedure) -> list[ChecklistItem]:
    return [ChecklistItem(code=c.code, name=c.name, kind=c.kind, count=c.count, required=c.required,
                          pages=counts.get(c.code, 0)) for c in procedure.components]


def checklist(dossier: Dossier, procedure: reception.Procedure) -> list[ChecklistItem]:
    counts: dict[str, int] = {}
    for page in dossier.pages:
        counts[page.component] = counts.get(page.component, 0) + 1
    return checklist_from_counts(counts, procedure)


def missing_required(items: list[ChecklistItem]) -> list[ChecklistItem]:
    return [i for i in items if i.required and not i.complete]


def procedure_or_none(store: Store, code: str) -> reception.Procedure | None:
    """The dossier's procedure when the catalog still has it (screens show what they can)."""
    try:
        return get_procedure(store, code)
    except ValidationError:
        return None


def check_component(store: Store, dossier_id: str, component: str) -> None:
    """Pages (uploaded or scanned) go into a component of the dossier's procedure: an unknown
    one is refused with the precise message before anything is read or written."""
    procedure = get_procedure(store, store.summary(dossier_id).procedure_code)
    procedure.component(component)


def remove_page(store: Store, dossier_id: str, index: int, *, actor: str) -> None:
    store.remove_page(dossier_id, index, actor=actor)
