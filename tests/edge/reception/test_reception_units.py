"""Two-tier administrative units as data (province, commune; no district): the list validated
whole, imported from the hub's feed, a bad one writing nothing; the structured current address
checked against it while the card's address is kept exactly as printed."""

from __future__ import annotations

import copy
import json

import pytest
import sqlite_utils

from edge import reception, services
from edge.errors import ValidationError
from edge.reception import DEMO_UNITS, import_units, parse_units

CARD_ADDRESS = "Số 5 phố Hàng Bạc, Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"  # three levels, as printed
APPLICANT = {"full_name": "Lê Thị Hồng Nhung", "id_number": "001190012345", "date_of_birth": "1990-05-17",
             "gender": "Nữ", "address": CARD_ADDRESS}


@pytest.fixture
def units() -> list[dict]:
    return json.loads(DEMO_UNITS.read_text(encoding="utf-8"))["units"]


@pytest.fixture
def db(units):
    db = sqlite_utils.Database(memory=True)
    import_units(db, units, source="demo")
    return db


@pytest.fixture
def store(box_store):
    reception.import_catalog(box_store, reception.load_catalog_json(reception.DEMO_CATALOG), source="demo")
    return box_store


def test_the_demo_units_are_two_tier_with_current_names(db, units):
    assert {u["level"] for u in units} == {"province", "commune"}
    assert [p.name for p in reception.provinces(db)][:1] == ["Thành phố Hà Nội"]
    assert "Phường Hoàn Kiếm" in {c.name for c in reception.communes(db, "01")}
    assert not any("Quận" in u["name"] or "Huyện" in u["name"] for u in units)


@pytest.mark.parametrize("change, vi_part", [
    (lambda u: u[1].update(level="district"), "không còn cấp huyện"),
    (lambda u: u[1].update(code="70"), "phải gồm 5 chữ số"),
    (lambda u: u[0].update(code="1"), "phải gồm 2 chữ số"),
    (lambda u: u[1].update(parent="99"), "thuộc tỉnh mã “99” không có trong danh mục"),
    (lambda u: u.append(dict(u[1])), "bị lặp"),
    (lambda u: u[2].update(name=" "), "thiếu tên đơn vị"),
    (lambda u: u[0].update(parent="01"), "không trực thuộc"),
    (lambda u: u[0].update(district="x"), "trường không hợp lệ 'district'"),
])
def test_a_bad_list_is_refused_and_writes_nothing(db, units, change, vi_part):
    bad = copy.deepcopy(units)
    change(bad)
    before = list(db.query("SELECT * FROM admin_units ORDER BY level, code"))
    with pytest.raises(ValidationError) as err:
        import_units(db, bad, source="bad")
    assert vi_part in err.value.message_vi, err.value.message_vi
    assert list(db.query("SELECT * FROM admin_units ORDER BY level, code")) == before


def test_the_hub_feed_replaces_the_units(store, units):
    from edge._registry import Registry
    from edge.reception import _extension

    registry = Registry()
    _extension.register(registry)

    class Item:
        seq, data = 3, {"version": "2025-07-01", "units": units[:3]}

    store.write(lambda conn: registry.feed_handlers["admin_units"](store, conn, Item()))
    assert [c.code for c in reception.communes(store)] == sorted(u["code"] for u in units[1:3])
    assert parse_units(units)  # the demo list itself is valid


def test_the_card_address_is_kept_as_printed_beside_the_structured_one(store, units):
    import_units(store, units, source="demo")
    draft = services.create_draft(store, actor="canbo", procedure_code="1.004222", applicant={
        **APPLICANT, "current_province": "01", "current_commune": "00070", "current_street": "Số 12 phố Hàng Bạc"})
    person = store.get(draft).applicant
    assert person.address == CARD_ADDRESS
    assert (person.current_province, person.current_commune, person.current_street) == ("01", "00070",
                                                                                        "Số 12 phố Hàng Bạc")
    assert reception.address_text(store, province="01", commune="00070", street=person.current_street) == \
        "Số 12 phố Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội"
    plain = services.create_draft(store, actor="canbo", procedure_code="1.004222", applicant=APPLICANT)
    assert store.get(plain).applicant.to_dict() == {**APPLICANT, "phone": "", "email": "", "old_id_number": ""}


@pytest.mark.parametrize("address, field, vi_part", [
    ({"current_province": "01", "current_commune": "26734", "current_street": "12 Lê Lợi"}, "current_commune",
     "Phường Sài Gòn không thuộc Thành phố Hà Nội"),
    ({"current_province": "02", "current_commune": "00070", "current_street": "x"}, "current_province",
     "Không có tỉnh/thành phố mã “02”"),
    ({"current_province": "01", "current_commune": "", "current_street": "x"}, "current_commune", "Chọn xã/phường"),
    ({"current_commune": "00070"}, "current_province", "Chọn tỉnh/thành phố"),
    ({"current_province": "01", "current_commune": "00070", "current_street": ""}, "current_street", "số nhà"),
    ({"current_province": "01", "current_commune": "99999", "current_street": "x"}, "current_commune",
     "Không có xã/phường mã “99999”"),
])
def test_a_wrong_current_address_writes_nothing(store, units, address, field, vi_part):
    import_units(store, units, source="demo")
    with pytest.raises(ValidationError) as err:
        services.create_draft(store, actor="canbo", procedure_code="1.004222", applicant={**APPLICANT, **address})
    assert err.value.field == field and vi_part in err.value.message_vi, err.value.message_vi
    assert store.count() == 0
