"""The box's use cases, called by the web views, the JSON API, the CLI and the demo alike.

Intake (drafts, applicant, checklist), finalize in one transaction, fees and payment, pages
(what a file is, how large it may be, a component as the page sink of a scan), look-up,
hand-back and rating. Each takes the :class:`edge.store.Store` (and the settings where the
station's configuration matters) and raises the layer errors of :mod:`edge.errors` with a
Vietnamese message naming the field.
"""

from ._after import dossier_view, find, hand_over, rate
from ._counter import (
    OUTCOME_VI,
    counter_form,
    parse_items,
    parse_reason,
    refuse,
    request_supplement,
)
from ._fees import (
    FEE_METHODS,
    fee_meta,
    fee_quote,
    fee_status,
    qr_svg_document,
    record_payment,
    vietqr_configured,
    vietqr_payload,
)
from ._finalize import Received, appointment, finalize, receive, received_now
from ._intake import (
    APPLICANT_FIELDS,
    CHANNELS,
    ChecklistItem,
    applicant_values,
    check_component,
    check_supplement_of,
    checklist,
    create_draft,
    documents_of,
    get_procedure,
    has_catalog,
    list_procedures,
    missing_required,
    outcome_of,
    parse_applicant,
    parse_channel,
    procedure_or_none,
    recorded_procedure,
    remove_page,
    update_draft,
)
from ._pages import (
    MAGIC,
    SNIFF_BYTES,
    page_limit_bytes,
    page_limit_mb,
    sniff,
    sniff_media_type,
    upload_limit_mb,
)
from ._signing import (
    PDF_MEDIA_TYPE,
    sign_draft,
    sign_receipt,
    sign_sources,
    signatures_of,
    signing_enabled,
    token_device_records,
)

__all__ = [
    "OUTCOME_VI", "check_supplement_of", "counter_form", "outcome_of", "parse_items", "parse_reason", "refuse",
    "request_supplement",
    "APPLICANT_FIELDS", "CHANNELS", "FEE_METHODS", "MAGIC", "SNIFF_BYTES", "ChecklistItem", "Received",
    "applicant_values", "appointment", "check_component", "checklist", "create_draft", "documents_of", "dossier_view",
    "fee_meta", "fee_quote", "fee_status", "finalize", "find", "get_procedure", "hand_over", "has_catalog",
    "list_procedures", "missing_required", "page_limit_bytes", "page_limit_mb", "parse_applicant",
    "parse_channel", "procedure_or_none", "qr_svg_document", "rate", "receive", "received_now", "recorded_procedure",
    "PDF_MEDIA_TYPE", "sign_draft", "sign_receipt", "sign_sources", "signatures_of", "signing_enabled",
    "token_device_records",
    "record_payment", "remove_page", "sniff", "sniff_media_type", "update_draft", "upload_limit_mb", "vietqr_configured",
    "vietqr_payload",
]
