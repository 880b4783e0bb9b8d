"""Finalize writes the code, the meta, the outbox row, the VietQR payload and the override in
ONE transaction: a failure in its last step leaves nothing of the earlier ones."""

from __future__ import annotations

import pytest

from edge import services
from edge.errors import StoreError

APPLICANT = {"full_name": "Lê Thị Hồng Nhung", "id_number": "001190012345", "date_of_birth": "1990-05-17",
             "gender": "Nữ", "address": "12 Phố Huế, Hà Nội", "phone": "0912345678"}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


class Refused(StoreError):
    """The injected failure of one store step (a full disk, a crash between statements)."""


def _draft(store, *, pages: tuple[str, ...] = ()) -> str:
    dossier_id = services.create_draft(store, actor="clerk", procedure_code="1.004222", applicant=APPLICANT)
    for component in pages:
        store.add_page(dossier_id, PNG, component=component, media_type="image/png", actor="clerk")
    return dossier_id


def _nothing_finalized(store, dossier_id: str) -> None:
    summary = store.summary(dossier_id)
    assert summary.status == "draft" and summary.code is None
    assert store.query("SELECT * FROM outbox WHERE dossier_id = ?", (dossier_id,)) == []
    actions = [r["action"] for r in store.query("SELECT action FROM audit WHERE dossier_id = ?", (dossier_id,))]
    assert "dossier.finalize" not in actions and "dossier.override_missing" not in actions
    meta = store.get(dossier_id).meta
    assert "fee" not in meta and "vietqr_payload" not in meta and "override" not in meta
    assert store.query("SELECT COUNT(*) AS n FROM dossiers WHERE code IS NOT NULL")[0]["n"] == 0


def test_override_audit_failing_leaves_no_code_no_outbox_row(store, settings, monkeypatch):
    dossier_id = _draft(store)  # no pages: both required components missing, a supervisor overrides
    real = store.audit

    def audit(action, **kwargs):
        if action == "dossier.override_missing":
            raise Refused("audit refused", message_vi="Không ghi được nhật ký.")
        return real(action, **kwargs)

    monkeypatch.setattr(store, "audit", audit)
    with pytest.raises(Refused):
        services.finalize(store, settings, dossier_id, actor="clerk", fee={"method": "later"}, override_by="super")
    _nothing_finalized(store, dossier_id)
    monkeypatch.setattr(store, "audit", real)
    code = services.finalize(store, settings, dossier_id, actor="clerk", fee={"method": "later"}, override_by="super")
    assert store.summary(dossier_id).code == code  # the same draft finalizes once the step works


def test_vietqr_payload_failing_leaves_no_code_no_outbox_row(store, settings, monkeypatch):
    dossier_id = _draft(store, pages=("CT01", "CMCH"))
    real = store.set_meta

    def set_meta(did, **values):
        if "vietqr_payload" in values:
            raise Refused("meta refused", message_vi="Không ghi được.")
        return real(did, **values)

    monkeypatch.setattr(store, "set_meta", set_meta)
    with pytest.raises(Refused):
        services.finalize(store, settings, dossier_id, actor="clerk", fee={"method": "vietqr"})
    _nothing_finalized(store, dossier_id)


def test_a_finalize_that_works_writes_every_step(store, settings):
    dossier_id = _draft(store, pages=("CT01",))
    code = services.finalize(store, settings, dossier_id, actor="clerk", fee={"method": "vietqr"},
                             override_by="super")
    dossier = store.get(dossier_id)
    assert dossier.code == code and dossier.status == "finalized"
    assert dossier.meta["vietqr_payload"] and dossier.meta["override"] == {"by": "super", "missing": ["CMCH"]}
    assert [r["state"] for r in store.query("SELECT state FROM outbox WHERE dossier_id = ?", (dossier_id,))] == ["sealed"]
    actions = [r["action"] for r in store.query("SELECT action, actor FROM audit WHERE dossier_id = ?", (dossier_id,))]
    assert actions.count("dossier.finalize") == 1 and actions.count("dossier.override_missing") == 1


def test_receive_failing_after_the_code_leaves_no_dossier(store, settings, monkeypatch):
    from edge.store import PageSource

    real = store.set_meta

    def set_meta(did, **values):
        raise Refused("meta refused", message_vi="Không ghi được.")

    monkeypatch.setattr(store, "set_meta", set_meta)
    with pytest.raises(Refused):
        services.receive(store, settings, procedure_code="1.004222", applicant=APPLICANT, actor="cli",
                         pages=[PageSource(source=PNG, component="CT01", media_type="image/png"),
                                PageSource(source=PNG, component="CMCH", media_type="image/png")],
                         fee={"method": "vietqr"})
    monkeypatch.setattr(store, "set_meta", real)
    assert store.query("SELECT COUNT(*) AS n FROM dossiers")[0]["n"] == 0
    assert store.query("SELECT COUNT(*) AS n FROM outbox")[0]["n"] == 0
    assert store.query("SELECT COUNT(*) AS n FROM pages")[0]["n"] == 0


def test_missing_components_without_override_write_nothing(store, settings):
    dossier_id = _draft(store, pages=("CT01",))
    with pytest.raises(Exception) as refused:
        services.finalize(store, settings, dossier_id, actor="clerk", fee={"method": "later"})
    assert getattr(refused.value, "field", "") == "components" and "CMCH" in str(refused.value)
    _nothing_finalized(store, dossier_id)
