"""Appointment dates: Tết, 30/4–1/5, 2/9, weekends, after hours, hours, make-up days, suspension.

Default office hours: 07:30–11:30 and 13:30–17:00 (7.5 h), 8 processing hours per working day.
Holiday dates below were checked against the ``holidays`` package (country VN).
"""

from __future__ import annotations

import datetime as dt

import holidays
import pytest
import sqlite_utils

from edge.errors import ConfigError, ValidationError
from edge.reception import (
    VN_TZ,
    OfficeHours,
    Override,
    ReceptionConfig,
    WorkCalendar,
    due,
    import_overrides,
    load_overrides,
    load_overrides_json,
    parse_overrides,
)

D = dt.datetime


def skipped(result) -> list[tuple[str, str]]:
    return [(s.date.isoformat(), s.reason) for s in result.skipped]


def test_package_knows_tet_2027_as_we_expect():
    vn = holidays.country_holidays("VN", years=2027, language="vi")
    assert [d.isoformat() for d in sorted(vn) if d.month == 2] == [
        "2027-02-04", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09", "2027-02-10"]


def test_tet_2027_five_working_days():
    result = due(D(2027, 2, 3, 10, 0), days=5)
    # Wed 03/02 10:00: 5 h left that day; Tết closes 04–10/02; Thu 11, Fri 12, Mon 15, Tue 16 (30 h);
    # 2.5 h more on Wed 17/02 → 10:00.
    assert result.due_at == D(2027, 2, 17, 10, 0)
    assert skipped(result) == [
        ("2027-02-04", "29 Tết"),
        ("2027-02-05", "Giao thừa Tết Nguyên Đán"),
        ("2027-02-06", "Tết Nguyên Đán"),
        ("2027-02-07", "Mùng hai Tết Nguyên Đán"),
        ("2027-02-08", "Mùng ba Tết Nguyên Đán"),
        ("2027-02-09", "Mùng bốn Tết Nguyên Đán"),
        ("2027-02-10", "Mùng năm Tết Nguyên Đán"),
        ("2027-02-13", "Thứ Bảy"),
        ("2027-02-14", "Chủ Nhật"),
    ]


def test_convention_same_clock_time_n_working_days_later():
    result = due(D(2026, 11, 10, 10, 0), days=5)
    assert result.due_at == D(2026, 11, 17, 10, 0)  # Tue → next Tue
    assert [(d, r) for d, r in result.skipped] == [(dt.date(2026, 11, 14), "Thứ Bảy"),
                                                   (dt.date(2026, 11, 15), "Chủ Nhật")]


def test_received_after_close_counts_from_next_opening_and_ends_at_close():
    result = due(D(2026, 11, 13, 17, 30), days=5)  # Friday after closing
    assert result.due_at == D(2026, 11, 20, 17, 0)  # Mon–Fri, due at the close of the 5th day
    assert skipped(result) == [("2026-11-14", "Thứ Bảy"), ("2026-11-15", "Chủ Nhật")]


def test_received_before_opening_and_on_weekend():
    assert due(D(2026, 11, 16, 6, 0), days=1).due_at == D(2026, 11, 16, 17, 0)
    saturday = due(D(2026, 11, 14, 9, 0), days=1)
    assert saturday.due_at == D(2026, 11, 16, 17, 0)
    assert skipped(saturday) == [("2026-11-14", "Thứ Bảy"), ("2026-11-15", "Chủ Nhật")]


def test_lunch_break_and_segment_end_is_reported():
    # 12:00 counts from 13:30; 8 h = 7.5 office hours: 3.5 h that afternoon + the next full morning.
    assert due(D(2026, 11, 10, 12, 0), hours=8).due_at == D(2026, 11, 11, 11, 30)


def test_april_30_and_may_1_2027():
    result = due(D(2027, 4, 28, 9, 0), days=3)
    assert result.due_at == D(2027, 5, 5, 9, 0)
    assert skipped(result) == [
        ("2027-04-30", "Ngày Chiến thắng"),
        ("2027-05-01", "Ngày Quốc tế Lao động"),
        ("2027-05-02", "Chủ Nhật"),
        ("2027-05-03", "Ngày Quốc tế Lao động (nghỉ bù)"),
    ]


def test_national_day_2027_with_adjacent_day():
    result = due(D(2027, 9, 1, 9, 0), days=2)
    assert result.due_at == D(2027, 9, 7, 9, 0)
    assert skipped(result) == [("2027-09-02", "Quốc khánh"), ("2027-09-03", "Quốc khánh"),
                               ("2027-09-04", "Thứ Bảy"), ("2027-09-05", "Chủ Nhật")]


def test_hours_are_processing_hours_of_the_working_day():
    received = D(2026, 11, 10, 10, 0)
    assert due(received, hours=16).due_at == due(received, days=2).due_at == D(2026, 11, 12, 10, 0)
    # 4 processing hours = 3.75 office hours (7.5 h office day counts 8 h): 1.5 h + 2.25 h.
    assert due(received, hours=4).due_at == D(2026, 11, 10, 15, 45)


def test_hours_are_clock_hours_when_the_office_day_lasts_hours_per_day():
    office = OfficeHours(morning_open=dt.time(7, 30), morning_close=dt.time(11, 30),
                         afternoon_open=dt.time(13, 0), afternoon_close=dt.time(17, 0), hours_per_day=8)
    calendar = WorkCalendar(office=office)
    assert calendar.due(D(2026, 11, 10, 10, 0), hours=4).due_at == D(2026, 11, 10, 15, 30)  # 1.5 h + 2.5 h
    assert calendar.due(D(2026, 11, 10, 10, 0), hours=40).due_at == D(2026, 11, 17, 10, 0)


@pytest.mark.parametrize("start_minute", range(0, 24 * 60, 37))
@pytest.mark.parametrize("n", [1, 3, 7])
def test_hours_times_eight_equal_days(start_minute, n):
    received = D(2027, 1, 28) + dt.timedelta(minutes=start_minute)  # runs into Tết 2027
    assert due(received, hours=8 * n).due_at == due(received, days=n).due_at


def test_make_up_saturday_override_counts_as_working_day():
    plain = due(D(2027, 2, 3, 10, 0), days=5)
    calendar = WorkCalendar(overrides=[Override(date=dt.date(2027, 2, 13), kind="working_day",
                                                reason="Làm bù cho ngày 10/02/2027")])
    made_up = calendar.due(D(2027, 2, 3, 10, 0), days=5)
    assert plain.due_at == D(2027, 2, 17, 10, 0)
    assert made_up.due_at == D(2027, 2, 16, 10, 0)
    assert ("2027-02-13", "Thứ Bảy") not in skipped(made_up)


def test_make_up_saturday_known_to_the_package_and_its_swapped_day_off():
    # 2026: Saturday 22/08 is worked, Monday 31/08 is off instead (in the holidays package).
    assert due(D(2026, 8, 21, 10, 0), days=1).due_at == D(2026, 8, 22, 10, 0)
    result = due(D(2026, 8, 28, 10, 0), days=2)
    assert result.due_at == D(2026, 9, 4, 10, 0)
    assert skipped(result) == [("2026-08-29", "Thứ Bảy"), ("2026-08-30", "Chủ Nhật"),
                               ("2026-08-31", "Ngày nghỉ (thay cho ngày 22/08/2026)"),
                               ("2026-09-01", "Quốc khánh"), ("2026-09-02", "Quốc khánh")]


def test_swapped_day_off_override():
    calendar = WorkCalendar(overrides=[Override(date=dt.date(2026, 11, 16), kind="day_off", reason="")])
    result = calendar.due(D(2026, 11, 10, 10, 0), days=5)
    assert result.due_at == D(2026, 11, 18, 10, 0)
    assert ("2026-11-16", "Ngày nghỉ bù") in skipped(result)


def test_override_beats_the_package():
    calendar = WorkCalendar(overrides=[Override(date=dt.date(2027, 2, 4), kind="working_day", reason="Làm việc")])
    assert calendar.is_working_day(dt.date(2027, 2, 4))
    assert calendar.due(D(2027, 2, 4, 7, 30), days=1).due_at == D(2027, 2, 4, 17, 0)


def test_suspension_extends_by_the_working_time_suspended():
    result = due(D(2026, 11, 10, 10, 0), days=5,
                 suspensions=[(D(2026, 11, 11, 7, 0), D(2026, 11, 12, 12, 0))])
    # 7.5 h on Wed + 4 h on Thu morning = 11.5 h: from Tue 17/11 10:00 → Wed 18/11 16:00.
    assert result.due_at == D(2026, 11, 18, 16, 0)
    assert result.suspended == dt.timedelta(hours=11, minutes=30)
    assert result.to_dict()["suspended_minutes"] == 690


def test_suspension_outside_office_hours_changes_nothing():
    result = due(D(2026, 11, 10, 10, 0), days=5,
                 suspensions=[(D(2026, 11, 14, 8, 0), D(2026, 11, 15, 18, 0))])  # a weekend
    assert result.due_at == D(2026, 11, 17, 10, 0)
    assert result.suspended == dt.timedelta()


@pytest.mark.parametrize(("received", "expected"), [
    (D(2026, 11, 10, 14, 59), D(2026, 11, 10, 17, 0)),   # before 15:00: same day
    (D(2026, 11, 10, 6, 45), D(2026, 11, 10, 17, 0)),    # before opening: same day
    (D(2026, 11, 10, 15, 0), D(2026, 11, 11, 17, 0)),    # at 15:00: next working day
    (D(2026, 11, 13, 15, 30), D(2026, 11, 16, 17, 0)),   # Friday afternoon → Monday
    (D(2026, 11, 14, 9, 0), D(2026, 11, 16, 17, 0)),     # Saturday → Monday
    (D(2027, 2, 3, 16, 0), D(2027, 2, 11, 17, 0)),       # the day before Tết
])
def test_certification_same_day_cutoff_15(received, expected):
    assert due(received, rule="same_day_cutoff_15").due_at == expected


def test_certification_suspension_moves_the_due_time():
    result = due(D(2026, 11, 10, 9, 0), rule="same_day_cutoff_15",
                 suspensions=[(D(2026, 11, 10, 13, 30), D(2026, 11, 10, 15, 30))])
    assert result.due_at == D(2026, 11, 11, 9, 30)


def test_aware_datetimes_are_read_in_vietnam_time():
    received = dt.datetime(2027, 2, 3, 3, 0, tzinfo=dt.UTC)  # 10:00 in Hà Nội
    result = due(received, days=5)
    assert result.due_at == dt.datetime(2027, 2, 17, 10, 0, tzinfo=VN_TZ)
    assert result.due_at.utcoffset() == dt.timedelta(hours=7)


@pytest.mark.parametrize("kwargs", [
    {}, {"days": 1, "hours": 8}, {"days": 0}, {"days": -2}, {"hours": float("nan")}, {"days": True},
    {"days": 100_000},
])
def test_bad_processing_time(kwargs):
    with pytest.raises(ValidationError) as err:
        due(D(2026, 11, 10, 10), **kwargs)
    assert err.value.message_vi


def test_bad_suspension_and_rule():
    with pytest.raises(ValidationError, match="before it starts"):
        due(D(2026, 11, 10, 10), days=1, suspensions=[(D(2026, 11, 10, 12), D(2026, 11, 10, 11))])
    with pytest.raises(ValidationError, match="unknown rule"):
        due(D(2026, 11, 10, 10), rule="same_day_cutoff_99")


def test_office_hours_from_config_and_bad_config():
    cfg = ReceptionConfig(morning_open="08:00", morning_close="12:00", afternoon_open="13:00",
                          afternoon_close="17:00", hours_per_day=8)
    calendar = WorkCalendar.from_config(cfg)
    assert calendar.due(D(2026, 11, 10, 7, 0), hours=2).due_at == D(2026, 11, 10, 10, 0)
    with pytest.raises(ConfigError):
        OfficeHours.from_config(ReceptionConfig(morning_open="12:00", morning_close="11:00"))
    with pytest.raises(ConfigError):
        OfficeHours.from_config(ReceptionConfig(afternoon_close="5pm"))


def test_all_days_off_is_an_error_not_a_hang():
    overrides = [Override(date=dt.date(2026, 11, 10) + dt.timedelta(days=i), kind="day_off")
                 for i in range(400)]
    with pytest.raises(ValidationError):
        WorkCalendar(overrides=overrides).due(D(2026, 11, 10, 10), days=1)


# ---------------------------------------------------------------- overrides as data


def test_overrides_parse_errors_name_the_record():
    with pytest.raises(ValidationError, match=r"overrides\[1\]\.kind"):
        parse_overrides([{"date": "2027-02-13", "kind": "working_day"}, {"date": "2027-02-14", "kind": "holiday"}])
    with pytest.raises(ValidationError, match=r"overrides\[0\]\.date"):
        parse_overrides([{"date": "13/02/2027", "kind": "day_off"}])
    with pytest.raises(ValidationError, match="listed twice"):
        parse_overrides({"overrides": [{"date": "2027-02-13", "kind": "day_off"}] * 2})
    with pytest.raises(ValidationError, match="unknown field"):
        parse_overrides([{"date": "2027-02-13", "kind": "day_off", "why": "x"}])


def test_overrides_table_roundtrip_and_atomic_import(tmp_path):
    db = sqlite_utils.Database(tmp_path / "cal.db")
    import_overrides(db, [{"date": "2027-02-13", "kind": "working_day", "reason": "Làm bù"}], source="test")
    with pytest.raises(ValidationError):
        import_overrides(db, [{"date": "2027-02-20", "kind": "day_off"}, {"date": "bad", "kind": "day_off"}],
                         source="test")
    assert load_overrides(db) == [Override(date=dt.date(2027, 2, 13), kind="working_day", reason="Làm bù")]
    import_overrides(db, [Override(date=dt.date(2027, 2, 20), kind="day_off", reason="Nghỉ")], source="t2",
                     replace=True)
    assert [o.date for o in load_overrides(db)] == [dt.date(2027, 2, 20)]
    calendar = WorkCalendar.from_config(ReceptionConfig(), db=db)
    assert calendar.is_working_day(dt.date(2027, 2, 19))  # a plain Friday
    assert calendar.day_status(dt.date(2027, 2, 20)) == (False, "Nghỉ")


def test_overrides_in_a_store(box_store):
    import_overrides(box_store, [{"date": "2027-02-13", "kind": "working_day", "reason": "Làm bù"}], source="sync")
    from edge.reception import calendar_for

    assert calendar_for(box_store).due(D(2027, 2, 3, 10), days=5).due_at == D(2027, 2, 16, 10)


def test_demo_overrides_file_is_valid():
    from edge.reception import DEMO_OVERRIDES

    assert len(load_overrides_json(DEMO_OVERRIDES)) >= 2
