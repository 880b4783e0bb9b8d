"""The CLI side of ``dossier create --draft``, ``dossier refuse`` and ``dossier request-supplement``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.fsutil import write_file_atomic
from edge.context import CliContext


def create_draft(store, *, procedure: str, applicant: dict, pages: tuple[Path, ...], component: str, actor: str,
                 supplement_of: str, finalize: bool, settings) -> dict[str, Any]:
    """Everything is checked before the draft is written (the component, each page's type)."""
    from edge import services

    sniffed = []
    for path in pages:
        with open(path, "rb") as handle:
            sniffed.append((path, services.sniff_media_type(handle.read(services.SNIFF_BYTES))))
    if pages:
        services.get_procedure(store, procedure).component(component)
    dossier_id = services.create_draft(store, actor=actor, procedure_code=procedure, applicant=applicant,
                                       supplement_of=supplement_of)
    for path, media_type in sniffed:
        with open(path, "rb") as handle:
            store.add_page(dossier_id, handle, component=component, media_type=media_type, actor=actor)
    if not finalize:
        return {"id": dossier_id}
    code = services.finalize(store, settings, dossier_id, actor=actor, fee={"method": "later"}, override_by=actor)
    return {"id": dossier_id, "code": code}


def close_draft(ctx: CliContext, ref: str, *, out: Path, clerk: str, actor: str, reason: str | None = None,
                legal_basis: str = "", items: list[str] | None = None) -> dict[str, Any]:
    """Refuse (``reason``) or send back (``items``) a draft, then write its form (02 or 03) to ``out``
    (only readable by its owner: the form holds personal data)."""
    from edge import services

    from ._core import _resolve

    with ctx.open_store() as store:
        dossier_id = _resolve(store, ref)
        if items is None:
            code = services.refuse(store, dossier_id, actor=actor, reason=reason, legal_basis=legal_basis)
        else:
            code = services.request_supplement(store, dossier_id, actor=actor, items=items)
        pdf = services.counter_form(store, ctx.settings, dossier_id, clerk_name=clerk)
        store.audit("dossier.form", actor=actor, dossier_id=dossier_id, details={"form": "03" if items is None else "02"})
    write_file_atomic(out, pdf)
    outcome = "refused" if items is None else "supplement_requested"
    return {"id": dossier_id, "code": code, "outcome": outcome, "form": str(out)}
