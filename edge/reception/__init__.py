"""Reception workflow: catalog, calendar, receipts, fees and VietQR."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._assemble import calendar_for, due_for_procedure, receipt_for_dossier
    from ._calendar import (
        VN_TZ,
        DueResult,
        OfficeHours,
        Override,
        SkippedDay,
        WorkCalendar,
        due,
        import_overrides,
        load_overrides,
        load_overrides_json,
        parse_overrides,
    )
    from ._catalog import (
        CHANNEL_VI,
        KIND_VI,
        Channel,
        Component,
        Fee,
        ImportResult,
        Procedure,
        ProcessingTime,
        fold,
        get_procedure,
        import_catalog,
        list_procedures,
        load_catalog_json,
        validate_catalog,
    )
    from ._fees import (
        FeeLine,
        FeeQuote,
        Payment,
        fee_meta,
        payment_of,
        quote_fee,
        record_payment,
        vietqr_for_fee,
    )
    from ._migrations import ensure_schema, migrations
    from ._receipt import (
        PrintError,
        ReceiptComponent,
        ReceiptData,
        ReceiptError,
        code_from_scan,
        print_pdf,
        receipt_qr_payload,
        render_receipt,
    )
    from ._vietqr import (
        VietQR,
        VietQRError,
        build_vietqr,
        crc16,
        fold_purpose,
        parse_vietqr,
        vietqr_png,
    )

_LAZY: dict[str, tuple[str, str | None]] = {
    "calendar_for": ("._assemble", "calendar_for"),
    "due_for_procedure": ("._assemble", "due_for_procedure"),
    "receipt_for_dossier": ("._assemble", "receipt_for_dossier"),
    "VN_TZ": ("._calendar", "VN_TZ"),
    "DueResult": ("._calendar", "DueResult"),
    "OfficeHours": ("._calendar", "OfficeHours"),
    "Override": ("._calendar", "Override"),
    "SkippedDay": ("._calendar", "SkippedDay"),
    "WorkCalendar": ("._calendar", "WorkCalendar"),
    "due": ("._calendar", "due"),
    "import_overrides": ("._calendar", "import_overrides"),
    "load_overrides": ("._calendar", "load_overrides"),
    "load_overrides_json": ("._calendar", "load_overrides_json"),
    "parse_overrides": ("._calendar", "parse_overrides"),
    "CHANNEL_VI": ("._catalog", "CHANNEL_VI"),
    "KIND_VI": ("._catalog", "KIND_VI"),
    "Channel": ("._catalog", "Channel"),
    "Component": ("._catalog", "Component"),
    "Fee": ("._catalog", "Fee"),
    "ImportResult": ("._catalog", "ImportResult"),
    "Procedure": ("._catalog", "Procedure"),
    "ProcessingTime": ("._catalog", "ProcessingTime"),
    "fold": ("._catalog", "fold"),
    "get_procedure": ("._catalog", "get_procedure"),
    "import_catalog": ("._catalog", "import_catalog"),
    "list_procedures": ("._catalog", "list_procedures"),
    "load_catalog_json": ("._catalog", "load_catalog_json"),
    "validate_catalog": ("._catalog", "validate_catalog"),
    "FeeLine": ("._fees", "FeeLine"),
    "FeeQuote": ("._fees", "FeeQuote"),
    "Payment": ("._fees", "Payment"),
    "fee_meta": ("._fees", "fee_meta"),
    "payment_of": ("._fees", "payment_of"),
    "quote_fee": ("._fees", "quote_fee"),
    "record_payment": ("._fees", "record_payment"),
    "vietqr_for_fee": ("._fees", "vietqr_for_fee"),
    "ensure_schema": ("._migrations", "ensure_schema"),
    "migrations": ("._migrations", "migrations"),
    "PrintError": ("._receipt", "PrintError"),
    "ReceiptComponent": ("._receipt", "ReceiptComponent"),
    "ReceiptData": ("._receipt", "ReceiptData"),
    "ReceiptError": ("._receipt", "ReceiptError"),
    "code_from_scan": ("._receipt", "code_from_scan"),
    "print_pdf": ("._receipt", "print_pdf"),
    "receipt_qr_payload": ("._receipt", "receipt_qr_payload"),
    "render_receipt": ("._receipt", "render_receipt"),
    "VietQR": ("._vietqr", "VietQR"),
    "VietQRError": ("._vietqr", "VietQRError"),
    "build_vietqr": ("._vietqr", "build_vietqr"),
    "crc16": ("._vietqr", "crc16"),
    "fold_purpose": ("._vietqr", "fold_purpose"),
    "parse_vietqr": ("._vietqr", "parse_vietqr"),
    "vietqr_png": ("._vietqr", "vietqr_png"),
}

DEMO_CATALOG = Path(__file__).parent / "data" / "demo_catalog.json"

DEMO_OVERRIDES = Path(__file__).parent / "data" / "demo_calendar_overrides.json"

__all__ = [
    "CHANNEL_VI",
    "DEMO_CATALOG",
    "DEMO_OVERRIDES",
    "KIND_VI",
    "VN_TZ",
    "Channel",
    "Component",
    "DueResult",
    "Fee",
    "FeeLine",
    "FeeQuote",
    "ImportResult",
    "OfficeHours",
    "Override",
    "Payment",
    "PrintError",
    "ProcessingTime",
    "Procedure",
    "ReceiptComponent",
    "ReceiptData",
    "ReceiptError",
    "SkippedDay",
    "VietQR",
    "VietQRError",
    "WorkCalendar",
    "build_vietqr",
    "calendar_for",
    "code_from_scan",
    "crc16",
    "due",
    "due_for_procedure",
    "ensure_schema",
    "fee_meta",
    "fold",
    "fold_purpose",
    "get_procedure",
    "import_catalog",
    "import_overrides",
    "list_procedures",
    "load_catalog_json",
    "load_overrides",
    "load_overrides_json",
    "migrations",
    "parse_overrides",
    "parse_vietqr",
    "payment_of",
    "print_pdf",
    "quote_fee",
    "receipt_for_dossier",
    "receipt_qr_payload",
    "record_payment",
    "render_receipt",
    "validate_catalog",
    "vietqr_for_fee",
    "vietqr_png",
]


def __getattr__(name: str) -> Any:
    # Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = importlib.import_module(module, __name__)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
