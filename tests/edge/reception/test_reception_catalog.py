"""Procedure catalog: validation with precise errors, atomic replacement, look-ups."""

from __future__ import annotations

import copy
import json

import pytest
import sqlite_utils

from edge.errors import NotFoundError, ValidationError
from edge.reception import (
    DEMO_CATALOG,
    Procedure,
    get_procedure,
    import_catalog,
    list_procedures,
    load_catalog_json,
    migrations,
)


@pytest.fixture
def demo() -> list[dict]:
    return json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))["procedures"]


@pytest.fixture
def db(tmp_path) -> sqlite_utils.Database:
    return sqlite_utils.Database(tmp_path / "catalog.db")


def test_demo_catalog_is_valid_and_realistic():
    procedures = load_catalog_json(DEMO_CATALOG)
    assert len(procedures) >= 10
    names = {p.name for p in procedures}
    for expected in ("Đăng ký khai sinh", "Đăng ký kết hôn", "Đăng ký thường trú", "Đăng ký thành lập hộ kinh doanh",
                     "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ"):
        assert expected in names
    assert any(p.name.startswith("Chứng thực bản sao") and p.special_rule == "same_day_cutoff_15" for p in procedures)
    assert any(p.field == "Lý lịch tư pháp" for p in procedures)
    assert any(p.field == "Đất đai" for p in procedures)
    assert any(c.processing_time.unit == "working_hours" for p in procedures for c in p.channels)
    assert any(p.code.endswith(".000.00.00.H26") for p in procedures)
    for p in procedures:
        assert p.components and all(c.count >= 1 for c in p.components)


def test_round_trip_through_dict(demo):
    for record in demo:
        procedure = Procedure.from_dict(record)
        assert Procedure.from_dict(procedure.to_dict()) == procedure


def test_import_and_look_up(db):
    result = import_catalog(db, load_catalog_json(DEMO_CATALOG), source="demo")
    assert result.count == len(list_procedures(db)) >= 10
    birth = get_procedure(db, "1.001193")
    assert birth.name == "Đăng ký khai sinh"
    assert birth.channel("direct").processing_time.value == 1
    assert [c.code for c in birth.components][:2] == ["TK", "GCS"]
    assert [p.code for p in list_procedures(db, search="dang ky khai sinh")] == ["1.001193"]
    assert [p.code for p in list_procedures(db, search="KHAI SINH")] == ["1.001193"]
    assert [p.code for p in list_procedures(db, search="1.004194.000.00.00.h26")] == ["1.004194.000.00.00.H26"]
    assert {p.field for p in list_procedures(db, field="Hộ tịch")} == {"Hộ tịch"}
    with pytest.raises(NotFoundError) as err:
        get_procedure(db, "9.999999")
    assert "9.999999" in err.value.message_vi


def test_channel_specific_fees_and_default_fees(db):
    import_catalog(db, load_catalog_json(DEMO_CATALOG), source="demo")
    residence = get_procedure(db, "1.004194.000.00.00.H26")
    assert residence.channel("direct").fees[0].amount == 20000
    assert residence.channel("online").fees[0].amount == 10000
    with pytest.raises(ValidationError) as err:
        get_procedure(db, "2.000815").channel("online")
    assert err.value.field == "channel"


@pytest.mark.parametrize(("mutate", "field_part", "vi_part"), [
    (lambda r: r.pop("name"), "procedures[3] (2.000884).name", "thiếu"),
    (lambda r: r.update(code="1.00119"), ".code", "mã thủ tục"),
    (lambda r: r["components"][1].update(kind="scan"), "components[1].kind", "certified_copy"),
    (lambda r: r["components"][0].update(count=0), "components[0].count", "lớn hơn"),
    (lambda r: r["components"][1].update(code=r["components"][0]["code"]), "components[1].code", "bị lặp"),
    (lambda r: r["channels"][0]["processing_time"].update(unit="days"), "channels[0].processing_time.unit", "working_days"),
    (lambda r: r["channels"][0]["processing_time"].update(value=-1), "processing_time.value", "số dương"),
    (lambda r: r["channels"][0].update(kind="fax"), "channels[0].kind", "direct"),
    (lambda r: r.update(channels=[]), ".channels", "ít nhất một kênh"),
    (lambda r: r["fees"][0].update(amount=-5), "fees[0].amount", "lớn hơn"),
    (lambda r: r["fees"][0].update(amount="10000"), "fees[0].amount", "số nguyên"),
    (lambda r: r.update(special_rule="tomorrow"), ".special_rule", "quy tắc"),
    (lambda r: r.update(extra=1), ".extra", "không hợp lệ"),
    (lambda r: r["components"][0].update(required="yes"), "components[0].required", "true"),
])
def test_validation_errors_name_record_and_field(demo, mutate, field_part, vi_part):
    records = copy.deepcopy(demo)
    mutate(records[3])
    with pytest.raises(ValidationError) as err:
        import_catalog(sqlite_utils.Database(memory=True), records, source="test")
    assert "procedures[3]" in err.value.field and field_part in err.value.field, err.value.field
    assert vi_part in err.value.message_vi


def test_duplicate_codes_and_empty_catalog(demo):
    records = copy.deepcopy(demo)
    records[5]["code"] = records[0]["code"]
    with pytest.raises(ValidationError, match=r"duplicate procedure code \(also procedures\[0\]\)"):
        import_catalog(sqlite_utils.Database(memory=True), records, source="test")
    with pytest.raises(ValidationError, match="empty"):
        import_catalog(sqlite_utils.Database(memory=True), [], source="test")
    with pytest.raises(ValidationError, match="must be a list"):
        import_catalog(sqlite_utils.Database(memory=True), {"code": "1.001193"}, source="test")


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError, match="not valid UTF-8 JSON"):
        load_catalog_json(bad)
    with pytest.raises(ValidationError, match="does not exist"):
        load_catalog_json(tmp_path / "missing.json")
    bad.write_text('{"items": []}', encoding="utf-8")
    with pytest.raises(ValidationError, match="procedures"):
        load_catalog_json(bad)


def test_invalid_catalog_leaves_the_old_one_untouched(db, demo):
    import_catalog(db, demo, source="v1")
    broken = copy.deepcopy(demo[:3])
    broken[2]["components"][0]["kind"] = "nope"
    with pytest.raises(ValidationError):
        import_catalog(db, broken, source="v2")
    assert len(list_procedures(db)) == len({r["code"] for r in demo})  # one version in force per code
    assert [r["source"] for r in db["catalog_imports"].rows] == ["v1"]


def test_database_failure_mid_import_rolls_back(db, demo):
    import_catalog(db, demo, source="v1")
    # A trigger that refuses one row makes the insert fail half-way through the replacement.
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON procedures WHEN NEW.code = '1.004873' "
               "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    smaller = [r for r in demo if r["code"] != "1.000656"]
    with pytest.raises(Exception, match="refused"):
        import_catalog(db, smaller, source="v2")
    assert {p.code for p in list_procedures(db)} == {r["code"] for r in demo}
    assert db.execute("SELECT count(*) FROM catalog_imports").fetchone()[0] == 1


def test_replacement_drops_procedures_no_longer_listed(db, demo):
    import_catalog(db, demo, source="v1")
    import_catalog(db, demo[:2], source="v2")
    assert [p.code for p in list_procedures(db)] == sorted(
        [r["code"] for r in demo[:2]], key=lambda c: next(
            (r["field"], r["name"]) for r in demo if r["code"] == c))


def test_catalog_in_the_store(box_store, demo):
    result = import_catalog(box_store, demo, source="sync")
    assert result.count == len({r["code"] for r in demo}) and result.versions == len(demo)
    assert get_procedure(box_store, "1.000894").name == "Đăng ký kết hôn"
    names = {r["name"] for r in box_store.query(f"SELECT name FROM {migrations.migrations_table} WHERE migration_set = ?",
                                                (migrations.name,))}
    assert {"m001_catalog", "m002_calendar_overrides"} <= names
