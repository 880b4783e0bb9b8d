"""Records the store hands out: frozen, slotted, keyword-only dataclasses."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from core.codes import is_ascii_digits, normalize_digits
from edge.errors import ValidationError

APPLICANT_KEYS = ("full_name", "id_number", "date_of_birth", "gender", "address", "phone", "email", "old_id_number",
                  "current_province", "current_commune", "current_street")
#: The structured current address (province and commune codes, the street part) the clerk
#: confirms, beside ``address`` as printed on the card; checked against the units by the services.
#: Left out of ``to_dict`` when empty, so an applicant without one reads as before.
CURRENT_ADDRESS_KEYS = ("current_province", "current_commune", "current_street")
#: Outcomes of a closed dossier other than reception (``meta["outcome"]``, the ``outcome`` column).
OUTCOMES = ("refused", "supplement_requested")
#: What a dossier list filters by: a life-cycle status or an outcome (``finalized``: received).
LIST_STATUSES = ("draft", "finalized", "handed_over", "shredded", *OUTCOMES)
_PHONE_RE = re.compile(r"^\+?[0-9 .-]{8,15}$")


def nfc(text: str) -> str:
    """Vietnamese text may arrive NFC or NFD: everything is stored and hashed as NFC."""
    return unicodedata.normalize("NFC", text).strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class Applicant:
    """The citizen submitting a dossier. Every field is personal data: sealed at rest."""

    full_name: str
    id_number: str
    date_of_birth: str = ""
    gender: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    old_id_number: str = ""
    current_province: str = ""
    current_commune: str = ""
    current_street: str = ""

    @classmethod
    def from_dict(cls, data: Any, *, today: dt.date | None = None) -> Applicant:
        """Validate an applicant given as JSON; errors name the field, in English and Vietnamese."""
        if not isinstance(data, dict):
            raise ValidationError("applicant", "must be a JSON object", message_vi="Thông tin người nộp phải là một đối tượng JSON.")
        unknown = sorted(set(data) - set(APPLICANT_KEYS))
        if unknown:
            raise ValidationError(unknown[0], f"unknown applicant field (allowed: {', '.join(APPLICANT_KEYS)})", message_vi=f"Trường không hợp lệ: {unknown[0]}.")
        values: dict[str, str] = {}
        for key in APPLICANT_KEYS:
            value = data.get(key, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise ValidationError(key, f"must be a string, got {type(value).__name__}", message_vi=f"Trường {key} phải là chuỗi ký tự.")
            values[key] = nfc(value)
        # Typed or scanned digits may be full-width or Arabic-Indic: stored (and blind-indexed) as
        # the ASCII number, so a search for the real number finds the dossier.
        for key in ("id_number", "old_id_number", "phone"):
            values[key] = normalize_digits(values[key])
        if not values["full_name"]:
            raise ValidationError("full_name", "is required", message_vi="Vui lòng nhập họ và tên người nộp.")
        if len(values["full_name"]) > 200:
            raise ValidationError("full_name", "is longer than 200 characters", message_vi="Họ và tên quá dài (tối đa 200 ký tự).")
        if not is_ascii_digits(values["id_number"], 12):
            raise ValidationError("id_number", "must be exactly 12 digits", message_vi="Số CCCD phải gồm đúng 12 chữ số.")
        old = values["old_id_number"]
        if old and not (is_ascii_digits(old, 9) or is_ascii_digits(old, 12)):
            raise ValidationError("old_id_number", "must be 9 or 12 digits", message_vi="Số CMND cũ phải gồm 9 hoặc 12 chữ số.")
        if values["date_of_birth"]:
            try:
                born = dt.date.fromisoformat(values["date_of_birth"])
            except ValueError:
                raise ValidationError("date_of_birth", "must be a date YYYY-MM-DD", message_vi="Ngày sinh phải có dạng NNNN-TT-NN (năm-tháng-ngày).") from None
            if born > (today or dt.date.today()):
                raise ValidationError("date_of_birth", "is in the future", message_vi="Ngày sinh không được ở tương lai.")
            if born.year < 1900:
                raise ValidationError("date_of_birth", "is before 1900", message_vi="Ngày sinh không hợp lệ (trước năm 1900).")
            values["date_of_birth"] = born.isoformat()
        if values["gender"] and values["gender"] not in ("Nam", "Nữ", "Khác"):
            raise ValidationError("gender", "must be Nam, Nữ or Khác", message_vi="Giới tính phải là Nam, Nữ hoặc Khác.")
        if values["phone"] and not _PHONE_RE.match(values["phone"]):
            raise ValidationError("phone", "is not a phone number", message_vi="Số điện thoại không hợp lệ.")
        if values["email"] and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", values["email"]):
            raise ValidationError("email", "is not an e-mail address", message_vi="Địa chỉ email không hợp lệ.")
        return cls(**values)

    def to_dict(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in APPLICANT_KEYS
                if key not in CURRENT_ADDRESS_KEYS or getattr(self, key)}


@dataclass(frozen=True, slots=True, kw_only=True)
class PageInfo:
    """One encrypted page (an image or PDF) of a dossier."""

    index: int
    component: str
    media_type: str
    blob: str
    size: int
    plain_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierSummary:
    """Non-personal columns of a dossier: safe to list without decrypting."""

    id: str
    code: str | None
    procedure_code: str
    status: str
    #: None for a draft; else "received", "refused" (form 03) or "supplement_requested" (form 02).
    outcome: str | None = None
    city_status: str | None
    sync_state: str | None
    created_at: str
    finalized_at: str | None
    due_at: str | None
    page_count: int

    @property
    def list_status(self) -> str:
        """What a list shows: the outcome of a refused or sent-back dossier, else its status."""
        return self.outcome if self.outcome in OUTCOMES and self.status == "finalized" else self.status


@dataclass(frozen=True, slots=True, kw_only=True)
class Dossier:
    """A dossier with its personal data opened (only while the local key wrap exists)."""

    id: str
    code: str | None
    procedure_code: str
    status: str
    city_status: str | None
    sync_state: str | None
    created_at: str
    finalized_at: str | None
    received_at: str | None
    due_at: str | None
    applicant: Applicant | None
    form: dict[str, Any]
    pages: tuple[PageInfo, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    shredded_at: str | None = None
    clock_anchored: bool = False
    counter: int = 0
    hlc: str = ""


def fold_name(text: str) -> list[str]:
    """Name search tokens: NFC, lower case, diacritics removed (đ → d)."""
    text = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return [t for t in re.split(r"[^0-9a-z]+", text) if t]
