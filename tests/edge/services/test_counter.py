"""Refusal (form 03) and request to supplement (form 02) at the counter, offline: one transaction
each, recorded with the clerk and the time, audited, sealed and queued like a received dossier;
bad input writes nothing; a supplemented dossier is completed later under a new code."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata

import pytest

from core.manifest import open_manifest
from core.sealed import CityPrivateKey
from edge import services
from edge.errors import StoreError, ValidationError
from sync.protocol import parse_manifest
from tests.plaintext import find_plaintext

REASON_MARKER = "Lý do riêng tư Phạm Thị Quỳnh"
NOTE_MARKER = "Ghi chú riêng tư Đỗ Văn Khải"
APPLICANT = {"full_name": "Lê Thị Hồng Nhung", "id_number": "001190012345", "date_of_birth": "1990-05-17",
             "gender": "Nữ", "address": "12 Phố Huế, Phường Hai Bà Trưng, Thành phố Hà Nội", "phone": "0912345678"}
PROCEDURE = "1.004222"  # Đăng ký tạm trú: CT01, CMCH


def _draft(store) -> str:
    return services.create_draft(store, actor="canbo", procedure_code=PROCEDURE, applicant=APPLICANT)


def _snapshot(store):
    return (store.query("SELECT id, status, code, meta FROM dossiers ORDER BY id"),
            store.query("SELECT * FROM outbox ORDER BY dossier_id"),
            store.query("SELECT COUNT(*) AS n FROM audit")[0]["n"])


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "form.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(unicodedata.normalize("NFC", out.stdout.decode()).split())


def _city_key(tmp_path) -> CityPrivateKey:
    import json

    return CityPrivateKey.from_json(json.loads((tmp_path / "city.key.json").read_text()))


def test_a_refusal_is_sealed_queued_audited_and_prints_form_03(store, settings, tmp_path):
    dossier_id = _draft(store)
    code = services.refuse(store, dossier_id, actor="canbo", reason=REASON_MARKER,
                           legal_basis="Khoản 2 Điều 19 Nghị định số 118/2025/NĐ-CP")
    dossier = store.get(dossier_id)
    assert dossier.code == code and services.outcome_of(dossier) == "refused" and dossier.due_at is None
    assert dossier.meta["clerk"] == "canbo" and dossier.meta["procedure_version"]["sha256"]
    assert "fee" not in dossier.meta
    assert store.query("SELECT state FROM outbox WHERE dossier_id = ?", (dossier_id,))[0]["state"] == "sealed"
    audit = [r for r in store.query("SELECT actor, action, at, details FROM audit WHERE dossier_id = ?", (dossier_id,))
             if r["action"] == "dossier.refused"]
    assert len(audit) == 1 and audit[0]["actor"] == "canbo" and code in audit[0]["details"]
    # the manifest says what happened; the reason travels sealed, for the city's key only
    manifest = parse_manifest(store.export_manifest(dossier_id))
    assert manifest.outcome == "refused" and manifest.raw["due_at"] is None
    opened = open_manifest(manifest.raw, _city_key(tmp_path))
    assert opened.form["refusal"]["reason"] == REASON_MARKER
    assert find_plaintext(store.root, [REASON_MARKER]) == []
    if shutil.which("pdftotext"):
        text = _pdf_text(services.counter_form(store, settings, dossier_id, clerk_name="Trần Văn Đức"), tmp_path)
        assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text and REASON_MARKER in text and code in text
        assert "Khoản 2 Điều 19 Nghị định số 118/2025/NĐ-CP" in text and "Lê Thị Hồng Nhung" in text


def test_a_request_to_supplement_lists_components_and_prints_form_02(store, settings, tmp_path):
    dossier_id = _draft(store)
    code = services.request_supplement(store, dossier_id, actor="canbo",
                                       items=[f"CT01:{NOTE_MARKER}", ("CMCH", "Hợp đồng thuê nhà chưa công chứng")])
    dossier = store.get(dossier_id)
    assert services.outcome_of(dossier) == "supplement_requested" and dossier.code == code
    assert dossier.meta["supplement_components"] == ["CT01", "CMCH"]
    assert parse_manifest(store.export_manifest(dossier_id)).outcome == "supplement_requested"
    assert find_plaintext(store.root, [NOTE_MARKER]) == []
    if shutil.which("pdftotext"):
        text = _pdf_text(services.counter_form(store, settings, dossier_id, clerk_name="Trần Văn Đức"), tmp_path)
        assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text and NOTE_MARKER in text
        assert "(CT01)" in text and "(CMCH)" in text and "chưa công chứng" in text
    with pytest.raises(ValidationError) as err:  # no form 02/03 for a received dossier
        services.counter_form(store, settings, services.receive(
            store, settings, procedure_code=PROCEDURE, applicant=APPLICANT, actor="canbo",
            override_by="giamsat", fee={"method": "later"}).dossier_id, clerk_name="x")
    assert "không có phiếu 02/03" in err.value.message_vi


@pytest.mark.parametrize("act, vi_part", [
    (lambda s, d: services.refuse(s, d, actor="canbo", reason="   "), "ghi rõ lý do từ chối"),
    (lambda s, d: services.refuse(s, d, actor="canbo", reason=None), "ghi rõ lý do từ chối"),
    (lambda s, d: services.request_supplement(s, d, actor="canbo", items=["XYZ:thiếu"]),
     "không có thành phần hồ sơ 'XYZ'"),
    (lambda s, d: services.request_supplement(s, d, actor="canbo", items=[]), "ít nhất một thành phần"),
    (lambda s, d: services.request_supplement(s, d, actor="canbo", items=["CT01"]), "MÃ_THÀNH_PHẦN:nội dung"),
    (lambda s, d: services.request_supplement(s, d, actor="canbo", items=["CT01:  "]), "Ghi rõ nội dung"),
    (lambda s, d: services.request_supplement(s, d, actor="canbo", items=["CT01:a", "CT01:b"]), "nêu hai lần"),
])
def test_bad_input_gets_a_vietnamese_message_and_writes_nothing(store, act, vi_part):
    dossier_id = _draft(store)
    before = _snapshot(store)
    with pytest.raises(ValidationError) as err:
        act(store, dossier_id)
    assert vi_part in err.value.message_vi, err.value.message_vi
    assert _snapshot(store) == before


def test_only_a_draft_can_be_refused(store, settings):
    dossier_id = _draft(store)
    services.refuse(store, dossier_id, actor="canbo", reason="Không thuộc thẩm quyền")
    before = _snapshot(store)
    with pytest.raises(StoreError) as err:
        services.request_supplement(store, dossier_id, actor="canbo", items=["CT01:x"])
    assert "Chỉ hồ sơ đang soạn" in err.value.message_vi
    assert _snapshot(store) == before


def test_a_supplemented_dossier_is_received_later_under_a_new_code(store, settings):
    first = _draft(store)
    old_code = services.request_supplement(store, first, actor="canbo", items=["CMCH:Thiếu hợp đồng thuê nhà"])
    # the citizen comes back with the paper (here, or at any other box): a new draft names form 02's code
    again = services.create_draft(store, actor="canbo2", procedure_code=PROCEDURE, applicant=APPLICANT,
                                  supplement_of=old_code)
    assert store.get(again).meta["supplement_of"] == old_code
    new_code = services.finalize(store, settings, again, actor="canbo2", fee={"method": "later"}, override_by="giamsat")
    assert new_code != old_code
    manifest = parse_manifest(store.export_manifest(again))
    assert manifest.outcome == "received" and manifest.raw["meta"]["supplement_of"] == old_code
    assert "outcome" not in manifest.raw  # a received dossier's manifest is unchanged
    assert services.outcome_of(store.get(first)) == "supplement_requested"  # the first record stays as it was


def test_a_supplement_of_another_box_is_taken_by_its_code(store):
    """The first box may be elsewhere and offline: a well-formed code of another agency is taken."""
    other = "000.00.21.H29-270203-0042"
    draft = services.create_draft(store, actor="canbo", procedure_code=PROCEDURE, applicant=APPLICANT,
                                  supplement_of=other)
    assert store.get(draft).meta["supplement_of"] == other


@pytest.mark.parametrize("code, vi_part", [
    ("not-a-code", "không phải mã hồ sơ"),
    ("000.00.06.H56-271340-0001", "không phải mã hồ sơ"),
])
def test_a_bad_supplement_code_writes_nothing(store, code, vi_part):
    before = _snapshot(store)
    with pytest.raises(ValidationError) as err:
        services.create_draft(store, actor="canbo", procedure_code=PROCEDURE, applicant=APPLICANT, supplement_of=code)
    assert vi_part in err.value.message_vi
    assert _snapshot(store) == before


def test_a_supplement_must_name_a_request_of_the_same_procedure(store, settings):
    received = services.receive(store, settings, procedure_code=PROCEDURE, applicant=APPLICANT, actor="canbo",
                                override_by="giamsat", fee={"method": "later"})
    with pytest.raises(ValidationError) as err:
        services.create_draft(store, actor="canbo", procedure_code=PROCEDURE, applicant=APPLICANT,
                              supplement_of=received.code)
    assert "không phải hồ sơ đã yêu cầu bổ sung" in err.value.message_vi
    first = _draft(store)
    code = services.request_supplement(store, first, actor="canbo", items=["CT01:ký lại"])
    with pytest.raises(ValidationError) as err:
        services.create_draft(store, actor="canbo", procedure_code="1.004194.000.00.00.H26", applicant=APPLICANT,
                              supplement_of=code)
    assert f"thuộc thủ tục {PROCEDURE}" in err.value.message_vi
