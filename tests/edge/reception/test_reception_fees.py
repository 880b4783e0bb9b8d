"""Fees and payments, and the whole reception path on a real store: catalog → due → finalize →
payment → receipt."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from edge.errors import ValidationError
from edge.reception import (
    DEMO_CATALOG,
    VN_TZ,
    Payment,
    build_vietqr,
    calendar_for,
    due_for_procedure,
    fee_meta,
    get_procedure,
    import_catalog,
    load_catalog_json,
    payment_of,
    quote_fee,
    receipt_for_dossier,
    record_payment,
    render_receipt,
    vietqr_for_fee,
)

APPLICANT = {"full_name": "Lê Thị Thu Hà", "id_number": "038190001234", "address": "Xã Quảng Phú, Thanh Hóa",
             "phone": "0987654321"}


@pytest.fixture
def catalog():
    return {p.code: p for p in load_catalog_json(DEMO_CATALOG)}


def test_quote_from_catalog_per_channel(catalog):
    business = catalog["2.000720"]
    assert quote_fee(business, "direct").total == 100000
    assert quote_fee(business, "online").total == 50000
    copies = quote_fee(catalog["2.000815"], quantities={0: 2, 1: 5})
    assert [(line.quantity, line.total) for line in copies.lines] == [(2, 4000), (5, 5000)]
    assert copies.total == 9000
    assert quote_fee(catalog["1.001193"]).total == 0
    with pytest.raises(ValidationError):
        quote_fee(catalog["2.000815"], "online")
    with pytest.raises(ValidationError):
        quote_fee(catalog["2.000815"], quantities={7: 1})
    with pytest.raises(ValidationError):
        quote_fee(catalog["2.000815"], quantities={0: -1})


def test_payment_validation():
    now = dt.datetime(2027, 2, 3, 10, 5, tzinfo=VN_TZ)
    with pytest.raises(ValidationError) as err:
        Payment(method="cash", amount=100000, paid_at=now)
    assert err.value.field == "receipt_number"
    with pytest.raises(ValidationError):
        Payment(method="card", amount=1, paid_at=now, receipt_number="1")
    payload = build_vietqr(bank_bin="970415", account="0011001932418", amount=100000, purpose="X")
    with pytest.raises(ValidationError) as err:
        Payment(method="vietqr", amount=50000, paid_at=now, payload=payload)
    assert "không khớp" in err.value.message_vi
    with pytest.raises(ValidationError):
        Payment(method="vietqr", amount=100000, paid_at=now, payload=payload[:-1] + ("1" if payload[-1] != "1" else "2"))
    ok = Payment(method="vietqr", amount=100000, paid_at=now, payload=payload)
    assert Payment.from_dict(ok.to_dict()) == ok
    with pytest.raises(ValidationError):
        Payment.from_dict({**ok.to_dict(), "card_number": "4111"})


def test_vietqr_for_fee_needs_configuration(box_settings):
    with pytest.raises(ValidationError) as err:
        vietqr_for_fee(reception=box_settings.reception, amount=1000, code="X")
    assert "VietQR" in err.value.message_vi


def test_fee_meta_refuses_a_wrong_amount(catalog):
    quote = quote_fee(catalog["2.000720"])
    cash = Payment(method="cash", amount=90000, paid_at=dt.datetime(2027, 2, 3, 10), receipt_number="BL-1")
    with pytest.raises(ValidationError):
        fee_meta(quote, cash)


def test_reception_end_to_end_on_a_store(box_store, tmp_path):
    import_catalog(box_store, load_catalog_json(DEMO_CATALOG), source="demo")
    procedure = get_procedure(box_store, "2.000720")
    dossier_id = box_store.create_draft(
        procedure_code=procedure.code, applicant=APPLICANT, actor="clerk1",
        documents=[{"component": c.code, "name": c.name, "kind": c.kind, "count": c.count, "provided": 1}
                   for c in procedure.components[:2]])
    received = dt.datetime(2027, 2, 3, 10, 0, tzinfo=VN_TZ)
    result = due_for_procedure(calendar_for(box_store), procedure, received)
    assert result.due_at == dt.datetime(2027, 2, 15, 10, 0, tzinfo=VN_TZ)  # 3 working days across Tết
    quote = quote_fee(procedure)
    code = box_store.finalize(dossier_id, actor="clerk1", received_at=received, due_at=result.due_at,
                              meta=fee_meta(quote))
    payload = build_vietqr(bank_bin="970415", account="0011001932418", amount=quote.total, purpose=code)
    record_payment(box_store, dossier_id, Payment(method="vietqr", amount=quote.total, paid_at=received,
                                                  payload=payload), actor="clerk1", expected_amount=quote.total)
    stored = payment_of(box_store.get(dossier_id).meta)
    assert stored is not None and stored.payload == payload and stored.amount == 100000

    data = receipt_for_dossier(box_store, dossier_id, clerk_name="Phạm Minh Châu")
    assert data.code == code and data.processing_time == "3 ngày làm việc"
    assert data.due_at == dt.datetime(2027, 2, 15, 10, 0)
    assert data.vietqr_payload == payload
    assert [c.name for c in data.components] == [c.name for c in procedure.components[:2]]
    path = tmp_path / "r.pdf"
    path.write_bytes(render_receipt(receipt=data))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout.decode()
    assert code in text and "Lê Thị Thu Hà" in text and "Thứ Hai ngày 15/02/2027" in text


def test_certification_due_uses_the_special_rule(catalog):
    from edge.reception import WorkCalendar

    result = due_for_procedure(WorkCalendar(), catalog["2.000815"], dt.datetime(2026, 11, 10, 15, 30))
    assert result.due_at == dt.datetime(2026, 11, 11, 17, 0)
    hours = due_for_procedure(WorkCalendar(), catalog["2.000635"], dt.datetime(2026, 11, 10, 10, 0))
    assert hours.due_at == dt.datetime(2026, 11, 10, 15, 45)


def test_receipt_of_a_draft_is_refused(box_store):
    import_catalog(box_store, load_catalog_json(DEMO_CATALOG), source="demo")
    dossier_id = box_store.create_draft(procedure_code="1.001193", applicant=APPLICANT, actor="clerk1")
    with pytest.raises(ValidationError) as err:
        receipt_for_dossier(box_store, dossier_id, clerk_name="X")
    assert "chưa có mã hồ sơ" in err.value.message_vi
