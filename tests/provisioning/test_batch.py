"""``provision init`` / ``provision batch``: bundles, import lines, labels; all or nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import cli
from provisioning import load_public_key, read_bundle, token_sha256
from sync.protocol import parse_station_line

from .conftest import HEADER, inventory_rows, write_inventory


def run(*args: str):
    return CliRunner().invoke(cli, ["provision", *args])


def test_batch_refuses_without_key_and_says_how(tmp_path: Path):
    inv = write_inventory(tmp_path / "inv.csv", inventory_rows(2))
    result = run("batch", str(inv), "--out", str(tmp_path / "out"), "--keys", str(tmp_path / "nokeys"))
    assert result.exit_code != 0
    assert "no provisioning key" in str(result.exception)
    assert "motcua provision init --keys" in str(result.exception)
    assert not (tmp_path / "out").exists()


def test_init_creates_private_key_0600_and_is_idempotent(tmp_path: Path, anchor_files):
    keys = tmp_path / "k"
    result = run("init", "--keys", str(keys), "--receipt-key", str(anchor_files["receipt"]),
                 "--city-key", str(anchor_files["city"]))
    assert result.exit_code == 0, result.output
    assert (keys / "provisioning.key").stat().st_mode & 0o777 == 0o600
    first = (keys / "provisioning.key").read_bytes()
    again = run("init", "--keys", str(keys))
    assert again.exit_code == 0 and "kept provisioning key" in again.output
    assert (keys / "provisioning.key").read_bytes() == first


def test_init_refuses_private_city_key(tmp_path: Path, anchor_files):
    result = run("init", "--keys", str(tmp_path / "k"), "--receipt-key", str(anchor_files["receipt"]),
                 "--city-key", str(anchor_files["city_private"]))
    assert result.exit_code != 0
    assert "PRIVATE" in str(result.exception) or "private" in str(result.exception)
    assert not (tmp_path / "k" / "anchors" / "city.pub").exists()


def test_batch_of_50(tmp_path: Path, prov_keys):
    inv = write_inventory(tmp_path / "inv.csv", inventory_rows(50))
    out = tmp_path / "out"
    result = run("batch", str(inv), "--out", str(out), "--keys", str(prov_keys.directory), "--token-days", "10")
    assert result.exit_code == 0, result.output
    bundles = sorted((out / "bundles").iterdir())
    assert len(bundles) == 50
    pub = load_public_key(prov_keys.directory / "provisioning.pub")
    lines = [json.loads(line) for line in (out / "stations.jsonl").read_text().splitlines()]
    by_id = {line["station_id"]: line for line in lines}
    assert len(by_id) == 50
    tokens = set()
    seen_partitions = set()
    for path in bundles:
        assert path.stat().st_mode & 0o777 == 0o600
        payload = read_bundle(path, pub)
        assert path.name == f"{payload.serial}.motcua-bundle"
        line = by_id[payload.station_id]
        parse_station_line(line)  # the hub's own validator accepts it
        assert line["token_sha256"] == token_sha256(payload.token)
        assert payload.token not in (out / "stations.jsonl").read_text()
        assert len(payload.token) * 5 >= 128
        tokens.add(payload.token)
        key = (payload.station["agency_code"], payload.station["code_partition_index"])
        assert key not in seen_partitions
        seen_partitions.add(key)
        assert line["partition_index"] == payload.station["code_partition_index"]
    assert len(tokens) == 50
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["stations"]) == 50 and "token" not in json.dumps(manifest).replace("token_expires_at", "")
    # No temporary directory left beside the output.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_label_sheet_has_every_station_in_vietnamese(tmp_path: Path, prov_keys):
    inv = write_inventory(tmp_path / "inv.csv", inventory_rows(20))
    out = tmp_path / "out"
    assert run("batch", str(inv), "--out", str(out), "--keys", str(prov_keys.directory)).exit_code == 0
    text = subprocess.run(["pdftotext", "-layout", str(out / "labels.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    manifest = json.loads((out / "manifest.json").read_text())
    for station in manifest["stations"]:
        assert station["station_id"] in text
        assert station["serial"] in text
    assert "Điểm tiếp nhận Phường Đông" in text and "Sơn 19" in text and "Mã trạm" in text  # name wraps
    pages = subprocess.run(["pdfinfo", str(out / "labels.pdf")], capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+2$", pages, re.M), pages  # 16 labels per page


def test_labels_qr_payload_has_serial_and_station_only():
    from provisioning import Label, qr_payload

    label = Label(serial="PI1", station_id="000.00.06.H56-S0000", station_name="x", agency_code="a", kind="k", code_range="r")
    assert qr_payload(label) == "MOTCUA1|PI1|000.00.06.H56-S0000"


def test_invalid_sheet_writes_nothing(tmp_path: Path, prov_keys):
    rows = inventory_rows(5)
    rows[3]["agency_code"] = "H56"
    rows[4]["serial"] = rows[0]["serial"]
    inv = write_inventory(tmp_path / "inv.csv", rows)
    out = tmp_path / "out"
    result = run("batch", str(inv), "--out", str(out), "--keys", str(prov_keys.directory))
    assert result.exit_code != 0
    message = str(result.exception)
    assert "row 5, column agency_code" in message and "row 6, column serial" in message
    assert list(tmp_path.iterdir()) == sorted(tmp_path.iterdir()) and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_missing_column_named(tmp_path: Path, prov_keys):
    inv = write_inventory(tmp_path / "inv.csv", inventory_rows(3), header=[h for h in HEADER if h != "kind"])
    result = run("batch", str(inv), "--out", str(tmp_path / "out"), "--keys", str(prov_keys.directory))
    assert "row 1, column kind: required column is missing" in str(result.exception)


def test_https_hub_needs_ca(tmp_path: Path, prov_keys):
    inv = write_inventory(tmp_path / "inv.csv", inventory_rows(2, hub_url="https://hub.example.gov.vn"))
    result = run("batch", str(inv), "--out", str(tmp_path / "out"), "--keys", str(prov_keys.directory))
    assert "column hub_url" in str(result.exception) and "--ca" in str(result.exception)
    assert not (tmp_path / "out").exists()


def test_existing_output_never_overwritten(tmp_path: Path, prov_keys):
    inv = write_inventory(tmp_path / "inv.csv", inventory_rows(2))
    out = tmp_path / "out"
    assert run("batch", str(inv), "--out", str(out), "--keys", str(prov_keys.directory)).exit_code == 0
    before = {p: p.read_bytes() for p in (out / "bundles").iterdir()}
    again = run("batch", str(inv), "--out", str(out), "--keys", str(prov_keys.directory))
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    assert {p: p.read_bytes() for p in (out / "bundles").iterdir()} == before


def test_failure_midway_leaves_nothing(tmp_path: Path, prov_keys, monkeypatch):
    import provisioning._batch as batch

    def broken(labels, **_):
        raise OSError("disk full")

    monkeypatch.setattr(batch, "render_labels", broken)
    inv = write_inventory(tmp_path / "inv.csv", inventory_rows(4))
    before = set(os.listdir(tmp_path))
    result = run("batch", str(inv), "--out", str(tmp_path / "out"), "--keys", str(prov_keys.directory))
    assert isinstance(result.exception, OSError)
    assert set(os.listdir(tmp_path)) == before


def test_second_batch_avoids_first_batch_partitions(tmp_path: Path, prov_keys):
    first = tmp_path / "b1"
    assert run("batch", str(write_inventory(tmp_path / "a.csv", inventory_rows(6))), "--out", str(first),
               "--keys", str(prov_keys.directory), "--partitions", "10").exit_code == 0
    again = run("batch", str(write_inventory(tmp_path / "b.csv", inventory_rows(3))), "--out", str(tmp_path / "b2"),
                "--keys", str(prov_keys.directory), "--existing", str(first))
    assert again.exit_code != 0 and "already provisioned" in str(again.exception)  # same serials
    second = tmp_path / "b3"
    result = run("batch", str(write_inventory(tmp_path / "c.csv", inventory_rows(3, prefix="NEW"))), "--out", str(second),
                 "--keys", str(prov_keys.directory), "--existing", str(first / "manifest.json"))
    assert result.exit_code == 0, result.output
    one = json.loads((first / "manifest.json").read_text())["stations"]
    two = json.loads((second / "manifest.json").read_text())["stations"]
    taken = {(s["agency_code"], s["partition_index"]) for s in one}
    assert not taken & {(s["agency_code"], s["partition_index"]) for s in two}
    assert {s["partition_size"] for s in one + two} == {999}
    assert not {s["station_id"] for s in one} & {s["station_id"] for s in two}
