"""Versioned procedures: validation of the versions, the version in force on a day, the switch at
00:00 Vietnam time on an offline box, and dossiers that keep the version they were received under."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys

import pytest
import sqlite_utils
from click.testing import CliRunner

from core.vntime import VN_TZ
from edge import reception, services
from edge.cli import cli
from edge.config import load_settings
from edge.errors import ValidationError
from edge.reception import (
    DEMO_CATALOG,
    get_procedure,
    import_catalog,
    list_procedures,
    procedure_versions,
)
from edge.store import Store

AGENCY = "000.00.06.H56"
CODE = "1.004873"  # the demo's procedure with a version from 2027-07-01
APPLICANT = {"full_name": "Trần Văn Bình", "id_number": "079090001234", "date_of_birth": "1990-03-04",
             "gender": "Nam", "address": "Số 5 đường Lê Lợi, Phường Sài Gòn, TP. Hồ Chí Minh"}


@pytest.fixture
def demo() -> list[dict]:
    return json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))["procedures"]


def _two_versions(demo: list[dict]) -> tuple[dict, dict]:
    first, second = (r for r in demo if r["code"] == CODE)
    return copy.deepcopy(first), copy.deepcopy(second)


def _others(demo):
    return [r for r in demo if r["code"] != CODE]


def test_the_demo_has_one_procedure_with_a_future_version(demo):
    assert [r["effective_from"] for r in demo if r["code"] == CODE] == ["2025-07-01", "2027-07-01"]
    db = sqlite_utils.Database(memory=True)
    result = import_catalog(db, demo, source="demo")
    assert result.versions == result.count + 1
    assert [p.effective_from for p in procedure_versions(db, CODE)] == [dt.date(2025, 7, 1), dt.date(2027, 7, 1)]
    before = get_procedure(db, CODE, at=dt.date(2027, 6, 30))
    after = get_procedure(db, CODE, at=dt.date(2027, 7, 1))
    assert before.channel("direct").processing_time.value == 3 and before.channels[0].fees[0].amount == 3000
    assert after.channel("direct").processing_time.value == 2 and after.channels[0].fees[0].amount == 5000
    assert "GTTT" in {c.code for c in after.components} - {c.code for c in before.components}
    assert before.sha256() != after.sha256()
    # one version per code in force on any day
    assert len(list_procedures(db, at=dt.date(2027, 6, 30))) == len(list_procedures(db, at=dt.date(2027, 7, 1)))
    with pytest.raises(reception.NotInForceError) as err:
        get_procedure(db, CODE, at=dt.date(2025, 6, 30))
    assert "chưa có hiệu lực vào ngày 30/06/2025" in err.value.message_vi


def _refused(records, vi_part: str) -> ValidationError:
    db = sqlite_utils.Database(memory=True)
    import_catalog(db, [r for r in json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))["procedures"]], source="v1")
    before = list(db.query("SELECT code, effective_from, sha256 FROM procedure_versions ORDER BY 1, 2"))
    with pytest.raises(ValidationError) as err:
        import_catalog(db, records, source="bad")
    assert vi_part in err.value.message_vi, err.value.message_vi
    # nothing written: the versions and the import log are those of the first import
    assert list(db.query("SELECT code, effective_from, sha256 FROM procedure_versions ORDER BY 1, 2")) == before
    assert [r["source"] for r in db["catalog_imports"].rows] == ["v1"]
    return err.value


def test_overlapping_versions_are_refused(demo):
    first, second = _two_versions(demo)
    first["effective_to"] = "2027-07-15"
    err = _refused([*_others(demo), first, second], "chồng lấn")
    assert f"thủ tục {CODE}" in err.message_vi and "01/07/2027" in err.message_vi
    same = copy.deepcopy(second)
    same["decision"] = "một quyết định khác"
    _refused([*_others(demo), first | {"effective_to": None}, second, same], "cùng có hiệu lực từ 01/07/2027")


def test_a_gap_between_versions_is_refused(demo):
    first, second = _two_versions(demo)
    first["effective_to"] = "2027-06-20"
    err = _refused([*_others(demo), first, second], "khoảng trống")
    assert "từ 21/06/2027 đến 30/06/2027" in err.message_vi


def test_versions_that_touch_are_accepted(demo):
    first, second = _two_versions(demo)
    first["effective_to"] = "2027-06-30"
    db = sqlite_utils.Database(memory=True)
    import_catalog(db, [*_others(demo), first, second], source="ok")
    assert get_procedure(db, CODE, at=dt.date(2027, 6, 30)).effective_to == dt.date(2027, 6, 30)


@pytest.mark.parametrize("value, vi_part", [
    ("01/07/2027", "không đúng định dạng YYYY-MM-DD"),
    ("2027-7-1", "không đúng định dạng YYYY-MM-DD"),
    ("2027-02-30", "không có thật trong lịch"),
    (20270701, "không đúng định dạng YYYY-MM-DD"),
])
def test_a_malformed_effective_date_is_refused(demo, value, vi_part):
    first, second = _two_versions(demo)
    second["effective_from"] = value
    err = _refused([*_others(demo), first, second], vi_part)
    assert err.field.endswith("effective_from")


def test_an_end_before_the_start_and_two_open_starts_are_refused(demo):
    first, second = _two_versions(demo)
    second["effective_to"] = "2027-01-01"
    _refused([*_others(demo), first, second], "trước ngày có hiệu lực")
    first, second = _two_versions(demo)
    del first["effective_from"], second["effective_from"]
    _refused([*_others(demo), first, second], f"Mã thủ tục {CODE} bị lặp")


# ------------------------------------------------------------------ a box across the effective date


@pytest.fixture
def box(tmp_path):
    settings = load_settings(None, env={}, overrides={"store": {"state_dir": str(tmp_path / "state")}})
    Store.init(settings, agency_code=AGENCY, demo_key_out=tmp_path / "city.key.json")
    store = Store.open(settings)
    yield store, settings
    store.close()


def _at(store, moment: dt.datetime) -> None:
    """The box's wall clock (the store's one place that reads the OS clock) reads ``moment``."""
    store.clock.wall = lambda: moment.timestamp()


def _feed(store, doc: dict, seq: int) -> None:
    """The hub's catalog feed item, through the handler the reception package registers."""
    from edge._registry import Registry  # the same registration the box uses
    from edge.reception import _extension

    registry = Registry()
    _extension.register(registry)
    handler = registry.feed_handlers["procedure_catalog"]

    class Item:
        pass

    item = Item()
    item.seq, item.data = seq, doc
    store.write(lambda conn: handler(store, conn, item))


def test_an_offline_box_switches_at_midnight_and_dossiers_keep_their_version(box, demo):
    store, settings = box
    _at(store, dt.datetime(2027, 5, 20, 9, 0, tzinfo=VN_TZ))
    _feed(store, {"version": 7, "procedures": demo}, seq=1)  # published weeks ahead; then no network
    late = dt.datetime(2027, 6, 30, 23, 59, tzinfo=VN_TZ)
    _at(store, late)
    assert services.get_procedure(store, CODE).effective_from == dt.date(2025, 7, 1)
    before = services.receive(store, settings, procedure_code=CODE, applicant=APPLICANT, actor="canbo",
                              override_by="giamsat", fee={"method": "later"})
    _at(store, dt.datetime(2027, 7, 1, 0, 0, tzinfo=VN_TZ))
    assert services.get_procedure(store, CODE).effective_from == dt.date(2027, 7, 1)
    after = services.receive(store, settings, procedure_code=CODE, applicant=APPLICANT, actor="canbo",
                             override_by="giamsat", fee={"method": "later"})
    old, new = store.get(before.dossier_id), store.get(after.dossier_id)
    assert old.meta["procedure_version"]["effective_from"] == "2025-07-01"
    assert new.meta["procedure_version"]["effective_from"] == "2027-07-01"
    assert old.meta["fee"]["total"] == 3000 and new.meta["fee"]["total"] == 5000
    assert "GTTT" not in {c["code"] for c in old.meta["components"]}
    assert "GTTT" in {c["code"] for c in new.meta["components"]}

    # the city replaces the catalog, dropping the old version: the old dossier still follows its own
    current = [r for r in demo if not (r["code"] == CODE and r["effective_from"] == "2025-07-01")]
    _feed(store, {"version": 8, "procedures": current}, seq=2)
    receipt_old = reception.receipt_for_dossier(store, before.dossier_id, clerk_name="Cán bộ")
    receipt_new = reception.receipt_for_dossier(store, after.dossier_id, clerk_name="Cán bộ")
    assert receipt_old.processing_time == "3 ngày làm việc" and receipt_new.processing_time == "2 ngày làm việc"
    assert receipt_old.fee_amount == 3000
    view = services.dossier_view(store, before.dossier_id)
    assert view["procedure_version"]["effective_from"] == "2025-07-01"
    assert {i["code"] for i in view["checklist"]} == {c.code for c in procedure_versions(store, CODE)[0].components} - {"GTTT"}


def test_a_draft_started_before_midnight_is_received_under_the_new_version(box, demo):
    store, settings = box
    _at(store, dt.datetime(2027, 6, 30, 23, 58, tzinfo=VN_TZ))
    import_catalog(store, demo, source="demo")
    draft = services.create_draft(store, actor="canbo", procedure_code=CODE, applicant=APPLICANT)
    _at(store, dt.datetime(2027, 7, 1, 0, 0, 30, tzinfo=VN_TZ))
    services.finalize(store, settings, draft, actor="canbo", fee={"method": "later"}, override_by="giamsat")
    assert store.get(draft).meta["procedure_version"]["effective_from"] == "2027-07-01"


# ------------------------------------------------------------------ the command line


def test_catalog_show_at(tmp_path, monkeypatch):
    for var in list(os.environ):
        if var.startswith("MOTCUA_"):
            monkeypatch.delenv(var)
    runner = CliRunner()
    state = str(tmp_path / "box")
    for args in (("init", "--agency", AGENCY), ("catalog", "import", str(DEMO_CATALOG))):
        result = runner.invoke(cli, ["--state-dir", state, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    shown = {}
    for day in ("2027-06-30", "2027-07-01"):
        result = runner.invoke(cli, ["--state-dir", state, "catalog", "show", CODE, "--at", day], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        shown[day] = json.loads(result.output)
    assert shown["2027-06-30"]["effective_from"] == "2025-07-01"
    assert shown["2027-07-01"]["effective_from"] == "2027-07-01"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    bad = subprocess.run([sys.executable, "-c", "from edge.cli import main; main()", "--state-dir", state,
                          "catalog", "show", CODE, "--at", "1/7/2027"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert bad.returncode != 0 and "không đúng định dạng YYYY-MM-DD" in bad.stderr, bad.stderr
