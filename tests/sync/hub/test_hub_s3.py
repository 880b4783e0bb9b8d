"""The hub on S3 end to end (a real Ceph RGW): init and serve from the CLI, a real box's dossier,
`hub open` reading through the blob store, and S3 going away under an upload."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hubclient import Station, fake_manifest

from edge.cli._main import cli
from edge.config import load_settings
from edge.store import PageSource, Store
from sync.hub import BlobUnavailable, S3BlobStore, S3Config
from sync.hub._s3 import PART_SIZE
from tests.plaintext import find_plaintext
from tests.sync.faultproxy import FaultProxy

pytestmark = pytest.mark.s3
AGENCY = "000.00.06.H56"


def _cli(*args: str, env: dict[str, str]) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False, standalone_mode=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def bucket(rgw, tmp_path: Path):
    name = f"motcua-{secrets.token_hex(6)}"
    admin = S3BlobStore(tmp_path / "admin", S3Config(bucket=name, endpoint=rgw.endpoint), access_key=rgw.access_key,
                        secret_key=rgw.secret_key)
    admin._call("create_bucket")
    yield name, admin
    admin.close()


def test_box_to_s3_and_open(rgw, bucket, hub_process, tmp_path: Path) -> None:
    name, admin = bucket
    env = {"AWS_ACCESS_KEY_ID": rgw.access_key, "AWS_SECRET_ACCESS_KEY": rgw.secret_key}
    data_dir = tmp_path / "hub"
    _cli("hub", "init", "--data-dir", str(data_dir), "--blobs", f"s3://{name}", "--s3-endpoint", rgw.endpoint, env=env)
    config = (data_dir / "hub.json").read_text()
    assert json.loads(config)["blobs"] == {"url": f"s3://{name}", "endpoint": rgw.endpoint, "region": "us-east-1"}
    assert rgw.secret_key not in config and rgw.access_key not in config  # credentials never stored
    token = json.loads(_cli("hub", "add-station", "HN-0001", "--agency", AGENCY, "--data-dir", str(data_dir),
                            "--partition-index", "2", "--json", env=env))["token"]
    url, _, proc = hub_process(data_dir, env=env)

    settings = load_settings(None, env={}, overrides={
        "store": {"state_dir": str(tmp_path / "box")},
        "station": {"station_id": "HN-0001", "code_partition_index": 2, "code_partition_size": 1000}})
    Store.init(settings, agency_code=AGENCY, city_public_key=(data_dir / "keys" / "city-public-key.json").read_bytes())
    pages = [os.urandom(PART_SIZE + 700_000), b"\x89PNG page two"]
    with Store.open(settings) as store:
        dossier_id, code = store.ingest(
            procedure_code="1.001612", actor="lan", form={"noi_dung": "Cấp bản sao"},
            applicant={"full_name": "Trần Văn Bình", "id_number": "001099012345", "date_of_birth": "1990-05-01"},
            pages=[PageSource(source=p, component="Tờ khai", media_type="image/png") for p in pages])
        manifest = store.export_manifest(dossier_id)
        blobs = [store.blobs.path(b["sha256"]).read_bytes() for b in manifest["blobs"]]
        box = Station(url, "HN-0001", key=store.station_signing_key())
    assert box.enroll(token).status == 200
    assert box.put(manifest).status == 201
    for blob in blobs:
        box.upload(dossier_id, blob, chunk=3 * 1024 * 1024)
    assert box.commit(manifest).status == 200

    shas = sorted(hashlib.sha256(b).hexdigest() for b in blobs)
    keys = sorted(o["Key"] for o in admin._call("list_objects_v2").get("Contents", []))
    assert keys == shas  # the objects, named by their SHA-256, and nothing else
    assert not any((data_dir / "blobs").rglob("*")) and not any((data_dir / "partial").iterdir())

    out = tmp_path / "opened"
    _cli("hub", "open", code, "--city-key", str(data_dir / "keys" / "city-private-key.json"), "--out", str(out),
         "--data-dir", str(data_dir), env=env)
    opened = json.loads((out / "dossier.json").read_text())
    assert opened["applicant"]["full_name"] == "Trần Văn Bình"
    assert [(out / p["file"]).read_bytes() for p in opened["pages"]] == pages
    proc.terminate()
    proc.wait(10)
    assert not find_plaintext(data_dir, ["Trần Văn Bình", "001099012345"])


def test_serve_refuses_wrong_credentials(rgw, bucket, tmp_path: Path) -> None:
    name, _ = bucket
    data_dir = tmp_path / "hub"
    env = {"AWS_ACCESS_KEY_ID": rgw.access_key, "AWS_SECRET_ACCESS_KEY": "wrong-secret"}
    _cli("hub", "init", "--data-dir", str(data_dir), "--blobs", f"s3://{name}", "--s3-endpoint", rgw.endpoint, env=env)
    res = subprocess.run([sys.executable, "-m", "edge.cli", "hub", "serve", "--data-dir", str(data_dir), "--port", "0"],
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "credentials" in res.stderr and "wrong-secret" not in res.stderr
    missing = tmp_path / "hub2"
    env["AWS_SECRET_ACCESS_KEY"] = rgw.secret_key
    _cli("hub", "init", "--data-dir", str(missing), "--blobs", "s3://motcua-no-such-bucket", "--s3-endpoint",
         rgw.endpoint, env=env)
    res = subprocess.run([sys.executable, "-m", "edge.cli", "hub", "serve", "--data-dir", str(missing), "--port", "0"],
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "does not exist" in res.stderr


def test_s3_down_mid_upload_answers_503_and_loses_nothing(rgw, bucket, hub_factory, tmp_path: Path) -> None:
    name, admin = bucket
    port = int(rgw.endpoint.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        store = S3BlobStore(tmp_path / "worker", S3Config(bucket=name, endpoint=proxy.url),
                            access_key=rgw.access_key, secret_key=rgw.secret_key)
        hub = hub_factory("sqlite", blobs=store)
        token = hub.add_station("HN-0001")
        box = Station(hub.url, "HN-0001")
        assert box.enroll(token).status == 200
        page = os.urandom(PART_SIZE + 2_000_000)
        sha = hashlib.sha256(page).hexdigest()
        manifest = fake_manifest("HN-0001", blobs=[page])
        dossier_id = manifest["dossier_id"]
        assert box.put(manifest).status == 201
        assert box.patch(dossier_id, sha, 0, page[:5_000_000]).status == 204
        proxy.set_mode("refuse")
        proxy.cut_all()  # the client keeps its connections alive
        reply = box.patch(dossier_id, sha, 5_000_000, page[5_000_000:10_000_000])
        assert reply.status == 503 and reply.code == "unavailable" and reply.headers.get("retry-after")
        assert box.head(dossier_id, sha).status == 503
        proxy.set_mode("pass")
        head = box.head(dossier_id, sha)
        assert head.status == 200 and head.headers["upload-offset"] == "5000000"  # what was acknowledged
        # S3 gone after a chunk was received, while its full part goes up: the chunk stays durable
        # in the landing zone and counts once S3 is back.
        with store.appender(sha) as app:
            app.append([page[5_000_000:10_000_000]], 5_000_000)
            proxy.set_mode("refuse")
            proxy.cut_all()
            with pytest.raises(BlobUnavailable):
                app.sync()
        proxy.set_mode("pass")
        head = box.head(dossier_id, sha)
        assert head.status == 200 and head.headers["upload-offset"] == "10000000"  # nothing lost
        assert box.upload(dossier_id, page, chunk=4_000_000).headers["x-motcua-blob-state"] == "complete"
        assert box.commit(manifest).status == 200
        proxy.set_mode("refuse")
        proxy.cut_all()  # the client keeps its connections alive
        with pytest.raises(Exception, match="unreachable|S3"):
            store.open(sha).read()
        proxy.set_mode("pass")
        with store.open(sha) as r:
            assert hashlib.sha256(r.read()).hexdigest() == sha
        hub.stop()
        store.close()
