"""The admin CLI end to end: init, stations, import, serve (subprocess), open with the city key."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from hubclient import Station
from PIL import Image

from edge.cli._main import cli
from edge.config import load_settings
from edge.store import PageSource, Store
from sync.protocol import (
    manifest_sha256,
    new_token,
    parse_feed_page,
    token_sha256,
    verify_receipt,
)

AGENCY = "000.00.06.H56"


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False, standalone_mode=False)
    assert result.exit_code == 0, result.output
    return result.output


def run_fails(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), standalone_mode=True)
    assert result.exit_code != 0
    return result.output + (str(result.exception) if result.exception else "")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "hub"
    run("hub", "init", "--data-dir", str(d))
    return d


def test_init_and_add_station(data_dir: Path):
    assert (data_dir / "keys" / "city-private-key.json").exists()
    out = json.loads(run("hub", "add-station", "HN-0001", "--agency", AGENCY, "--data-dir", str(data_dir), "--json"))
    assert out["partition_index"] == 0 and len(out["token"]) == 32
    out2 = json.loads(run("hub", "add-station", "HN-0002", "--agency", AGENCY, "--data-dir", str(data_dir), "--json"))
    assert out2["partition_index"] == 1
    listing = json.loads(run("hub", "stations", "--json", "--data-dir", str(data_dir)))
    assert [s["station_id"] for s in listing] == ["HN-0001", "HN-0002"]
    assert all(s["token_pending"] and not s["enrolled"] for s in listing)
    assert "already initialised" in run_fails("hub", "init", "--data-dir", str(data_dir))
    assert "agency" in run_fails("hub", "add-station", "HN-3", "--agency", "H56", "--data-dir", str(data_dir)).lower()


def test_import_stations_all_or_nothing(data_dir: Path, hub_process):
    tokens = {f"HN-{i:04d}": new_token() for i in range(1, 4)}
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    lines = [json.dumps({"station_id": sid, "agency_code": AGENCY, "name": f"Điểm {sid}", "kind": "commune",
                         "address": "", "token_sha256": token_sha256(tok), "token_expires_at": expires,
                         "partition_index": None}) for sid, tok in tokens.items()]
    bad = data_dir / "bad.jsonl"
    bad.write_text("\n".join([*lines, lines[0].replace("commune", "castle")]) + "\n")
    message = run_fails("hub", "import-stations", str(bad), "--data-dir", str(data_dir))
    assert "line 4" in message and "kind" in message
    assert json.loads(run("hub", "stations", "--json", "--data-dir", str(data_dir))) == []
    good = data_dir / "good.jsonl"
    good.write_text("\n".join(lines) + "\n")
    assert "3 new" in run("hub", "import-stations", str(good), "--data-dir", str(data_dir))
    url, _, _ = hub_process(data_dir)
    box = Station(url, "HN-0002")
    assert box.enroll(tokens["HN-0002"]).status == 200
    assert Station(url, "HN-0003").enroll(tokens["HN-0002"]).json["error"]["code"] == "token_invalid"


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (seed, 100, 200)).save(out, format="PNG")
    return out.getvalue()


def test_real_dossier_reaches_the_city_and_opens(data_dir: Path, hub_process, tmp_path: Path):
    token = json.loads(run("hub", "add-station", "HN-0001", "--agency", AGENCY, "--data-dir", str(data_dir),
                           "--partition-index", "2", "--json"))["token"]
    url, _, _ = hub_process(data_dir)
    settings = load_settings(None, env={}, overrides={
        "store": {"state_dir": str(tmp_path / "box")},
        "station": {"station_id": "HN-0001", "code_partition_index": 2, "code_partition_size": 1000}})
    Store.init(settings, agency_code=AGENCY, city_public_key=(data_dir / "keys" / "city-public-key.json").read_bytes())
    pages = [_png(1), _png(2)]
    with Store.open(settings) as store:
        dossier_id, code = store.ingest(
            procedure_code="1.001612", actor="lan", form={"noi_dung": "Cấp bản sao"},
            applicant={"full_name": "Trần Văn Bình", "id_number": "001099012345", "date_of_birth": "1990-05-01"},
            pages=[PageSource(source=p, component="Tờ khai", media_type="image/png") for p in pages])
        manifest = store.export_manifest(dossier_id)
        blobs = [store.blobs.path(b["sha256"]).read_bytes() for b in manifest["blobs"]]
        box = Station(url, "HN-0001", key=store.station_signing_key())
    enrolled = box.enroll(token)
    assert enrolled.status == 200
    receipt_key = base64.b64decode(enrolled.json["hub"]["receipt_public_key"])
    assert box.put(manifest).status == 201
    for blob in blobs:
        box.upload(dossier_id, blob, chunk=1000)
    commit = box.commit(manifest)
    assert commit.status == 200, commit.body
    receipt = verify_receipt(commit.json, receipt_key, manifest_sha256=manifest_sha256(manifest),
                             blobs=[hashlib.sha256(b).hexdigest() for b in blobs])
    assert receipt["code"] == code

    listed = json.loads(run("hub", "dossiers", "--json", "--data-dir", str(data_dir)))
    assert [(d["dossier_id"], d["state"], d["status"]) for d in listed] == [(dossier_id, "committed", 2)]
    assert "Trần" not in json.dumps(listed, ensure_ascii=False)

    out = tmp_path / "opened"
    run("hub", "open", code, "--city-key", str(data_dir / "keys" / "city-private-key.json"), "--out", str(out),
        "--data-dir", str(data_dir))
    opened = json.loads((out / "dossier.json").read_text())
    assert opened["applicant"]["full_name"] == "Trần Văn Bình" and opened["form"] == {"noi_dung": "Cấp bản sao"}
    assert [(out / p["file"]).read_bytes() for p in opened["pages"]] == pages
    # Decrypted personal data: only the city's operator may read it, whatever their umask.
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in [out, *out.iterdir()]} <= {"0o700", "0o600"}
    wrong_key = tmp_path / "other.json"
    from edge.store import CityPrivateKey

    wrong_key.write_text(json.dumps(CityPrivateKey.generate("MLKEM768_X25519").to_json()))
    assert "does not open" in run_fails("hub", "open", dossier_id, "--city-key", str(wrong_key), "--out",
                                        str(tmp_path / "nope"), "--data-dir", str(data_dir))
    assert not (tmp_path / "nope").exists()

    run("hub", "set-status", code, "10", "--note", "đã trả", "--data-dir", str(data_dir))
    items = parse_feed_page(box.feed().json)[0]
    assert [(i.data["status"], i.data["note"]) for i in items if i.type == "dossier_status"] == [(2, ""), (10, "đã trả")]

    run("hub", "clerks", "add", "lan", "--role", "clerk", "--password-stdin", "--data-dir", str(data_dir),
        input="mat-khau-that-dai\n")
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps([{"date": "2026-12-31", "kind": "day_off", "reason": "nghỉ bù"}]))
    run("hub", "calendar", "push", str(cal), "--data-dir", str(data_dir))
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps({"version": "2026.11", "procedures": [{"code": "1.001612", "name": "Cấp bản sao"}]}))
    run("hub", "catalog", "push", str(cat), "--data-dir", str(data_dir))
    types = [i.type for i in parse_feed_page(box.feed().json)[0]]
    assert types[-3:] == ["clerk_account", "calendar_override", "procedure_catalog"]
    clerk = [i for i in parse_feed_page(box.feed().json)[0] if i.type == "clerk_account"][0]
    assert clerk.data["password_hash"].startswith("$argon2id$")

    run("hub", "revoke", "HN-0001", "--data-dir", str(data_dir))
    refused = box.heartbeat()
    assert refused.status == 403 and refused.json["command"]["command"]["kind"] == "wipe"
