"""Inventory validation: every error by row and column, all of them at once."""

from __future__ import annotations

import pytest

from provisioning import InventoryError, assign_partitions, number_range, parse_inventory
from provisioning._partition import Existing

HEAD = "serial,station_name,agency_code,kind,address,hub_url\n"
GOOD = "PI1,Điểm Phúc Xá,000.00.06.H56,commune,1 Lê Lợi,https://hub.example.gov.vn\n"


def errors_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(InventoryError) as info:
        parse_inventory(text)
    return [(e.row, e.column) for e in info.value.errors]


def test_good_sheet_parses_nfc_and_strips():
    rows = parse_inventory(HEAD + "PI1,Điểm Phu\u0301c Xá , 000.00.06.H56 ,Commune,,http://127.0.0.1:8080/\n")
    assert len(rows) == 1
    row = rows[0]
    assert row.station_name == "Điểm Phúc Xá"  # NFD input normalised to NFC
    assert row.kind == "commune" and row.agency_code == "000.00.06.H56"
    assert row.hub_url == "http://127.0.0.1:8080"
    assert row.row == 2


def test_bom_and_semicolons_from_spreadsheets():
    rows = parse_inventory("\ufeff" + HEAD.replace(",", ";") + GOOD.replace(",", ";"))
    assert [r.serial for r in rows] == ["PI1"]


def test_missing_and_unknown_columns_named():
    errs = errors_of("serial,station_nam,agency_code,kind,hub_url\n" + "PI1,x,000.00.06.H56,branch,https://h.example\n")
    assert (1, "station_nam") in errs
    assert (1, "station_name") in errs
    assert (1, "address") in errs


def test_every_row_error_reported_together():
    text = HEAD + GOOD + (
        "PI1,Dup,000.00.06.H56,branch,,https://hub.example\n"          # row 3: duplicate serial
        "PI3,X,000.00.06.H5,branch,,https://hub.example\n"              # row 4: bad agency code
        "PI4,X,000.00.06.H56,kiosk,,https://hub.example\n"              # row 5: bad kind
        "PI5,X,000.00.06.H56,branch,,http://10.1.2.3\n"                 # row 6: http to a non-loopback host
        "PI6,X,000.00.06.H56,branch,,ftp://hub.example\n"               # row 7: bad scheme
        "PI 7,,000.00.06.H56,branch,,https://hub.example\n"             # row 8: bad serial, empty name
        "PI8,X,000.00.06.H56,branch\n"                                  # row 9: wrong cell count
    )
    errs = errors_of(text)
    assert errs == [(3, "serial"), (4, "agency_code"), (5, "kind"), (6, "hub_url"), (7, "hub_url"),
                    (8, "serial"), (8, "station_name"), (9, "-")]


def test_message_names_the_problem():
    with pytest.raises(InventoryError) as info:
        parse_inventory(HEAD + "PI1,X,000.00.06.h56,branch,,https://hub.example\n")
    text = str(info.value)
    assert "row 2, column agency_code" in text and "DDD.CC.BB.Xnn" in text and "nothing was written" in text
    assert info.value.message_vi


def test_header_only_and_empty():
    assert errors_of(HEAD) == [(2, "-")]
    assert errors_of("") == [(1, "-")]


def test_loopback_http_allowed_ipv6():
    rows = parse_inventory(HEAD + "PI1,X,000.00.06.H56,branch,,http://[::1]:8443\n")
    assert rows[0].hub_url == "http://[::1]:8443"


def test_partition_indices_distinct_per_agency():
    text = HEAD + "".join(f"P{i},X,000.00.0{i % 2}.H56,branch,,https://h.example\n" for i in range(7))
    rows = parse_inventory(text)
    placed = assign_partitions(rows)
    size = 9999 // (4 + 1)  # the busiest agency has 4 boxes, plus one spare partition for a replacement
    for agency in ("000.00.00.H56", "000.00.01.H56"):
        idx = [placed[r.serial].index for r in rows if r.agency_code == agency]
        assert sorted(idx) == list(range(len(idx)))
    ranges = sorted(number_range(placed[r.serial]) for r in rows if r.agency_code == "000.00.00.H56")
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(placed[r.serial].size == size for r in rows)


def test_partitions_avoid_existing_and_explicit():
    rows = parse_inventory("serial,station_name,agency_code,kind,address,hub_url,partition_index\n"
                           "A,X,000.00.06.H56,branch,,https://h.example,\n"
                           "B,X,000.00.06.H56,branch,,https://h.example,4\n")
    existing = [Existing(station_id="s0", agency_code="000.00.06.H56", partition_index=0, partition_size=1000),
                Existing(station_id="s1", agency_code="000.00.06.H56", partition_index=1, partition_size=1000)]
    placed = assign_partitions(rows, existing)
    assert placed["A"].index == 2 and placed["A"].size == 1000
    assert placed["B"].index == 4


def test_partition_collisions_reported():
    head = "serial,station_name,agency_code,kind,address,hub_url,partition_index\n"
    assert errors_of(head + "A,X,000.00.06.H56,branch,,https://h.example,1\n"
                            "B,X,000.00.06.H56,branch,,https://h.example,1\n") == [(3, "partition_index")]
    rows = parse_inventory(head + "A,X,000.00.06.H56,branch,,https://h.example,0\n"
                                  "B,X,000.00.06.H56,branch,,https://h.example,7\n")
    existing = [Existing(station_id="s0", agency_code="000.00.06.H56", partition_index=0, partition_size=1000)]
    with pytest.raises(InventoryError) as info:
        assign_partitions(rows, existing)
    assert [(e.row, e.column) for e in info.value.errors] == [(2, "partition_index")]
    # No room: size 3333 leaves 3 partitions, all taken.
    full = [Existing(station_id=f"s{i}", agency_code="000.00.06.H56", partition_index=i, partition_size=3333)
            for i in range(3)]
    with pytest.raises(InventoryError, match="no free dossier-number partition"):
        assign_partitions(parse_inventory(head + "C,X,000.00.06.H56,branch,,https://h.example,\n"), full)


def test_non_ascii_digits_refused_by_row_and_column(tmp_path):
    """Full-width and Arabic-Indic digits look like digits to ``\\d`` and ``int()``; a code is ASCII."""
    from provisioning import read_inventory

    sheet = tmp_path / "inv.csv"
    sheet.write_text("serial,station_name,agency_code,kind,address,hub_url,partition_index\n"
                     "PI1,Điểm A,０００.00.06.H56,commune,,https://hub.example.gov.vn,\n"
                     "PI2,Điểm B,000.00.06.H56,commune,,https://hub.example.gov.vn,١\n"
                     "PI3,Điểm C,000.00.06.H56,commune,,https://hub.example.gov.vn,１\n", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InventoryError) as info:
        read_inventory(sheet)
    assert [(e.row, e.column) for e in info.value.errors] == [(2, "agency_code"), (3, "partition_index"),
                                                              (4, "partition_index")]
    assert "ASCII" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_partition_index_past_the_sequence_is_refused():
    errs = errors_of(HEAD.rstrip("\n") + ",partition_index\n" + GOOD.rstrip("\n") + ",10000\n")
    assert errs == [(2, "partition_index")]


def test_existing_stations_with_non_ascii_partition_refused(tmp_path):
    from provisioning._partition import read_existing

    path = tmp_path / "stations.jsonl"
    path.write_text('{"agency_code": "000.00.06.H56", "partition_index": "1"}\n'
                    '{"agency_code": "000.00.06.H56", "partition_index": "\uff12"}\n'
                    '{"agency_code": "000.00.06.H56", "partition_index": 1.5}\n')
    with pytest.raises(InventoryError) as info:
        read_existing(path)
    assert [e.row for e in info.value.errors] == [2, 3]
