"""Two `motcua hub serve` workers on PostgreSQL and S3 (Ceph RGW) behind HAProxy: a worker killed
mid-upload, the box goes on through the other one, and the dossier arrives once: in the hub, in
the bucket and at the reference city system, whose status then comes back to the box."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from cityref import CityReceiver
from click.testing import CliRunner
from hubclient import Station, fake_manifest

from edge.cli._main import cli
from sync.hub import S3BlobStore, S3Config
from sync.hub._s3 import PART_SIZE
from sync.protocol import parse_feed_page

pytestmark = [pytest.mark.s3, pytest.mark.postgres]
AGENCY = "000.00.06.H56"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, env: dict[str, str]) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False, standalone_mode=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def haproxy(tmp_path: Path):
    from bench._stack import RgwUnavailable, start_haproxy

    started = []

    def start(workers: list[str]) -> str:
        try:
            lb = start_haproxy(workers, tmp_path / "haproxy.cfg")
        except RgwUnavailable as exc:
            pytest.skip(str(exc))
        started.append(lb)
        return lb.url

    yield start
    for lb in started:
        lb.stop()


def _retrying(call, *, attempts: int = 40):
    """What a box does: a lost connection or a 5xx is tried again shortly."""
    for _ in range(attempts):
        try:
            reply = call()
        except OSError:
            time.sleep(0.3)
            continue
        if reply.status < 500:
            return reply
        time.sleep(0.3)
    raise AssertionError("no answer through the load balancer")


@pytest.fixture
def stack():
    with contextlib.ExitStack() as s:
        yield s


def test_two_workers_a_worker_killed_mid_upload(rgw, pg_dsn, hub_process, haproxy, stack, tmp_path: Path) -> None:
    bucket = f"motcua-{secrets.token_hex(6)}"
    admin = S3BlobStore(tmp_path / "admin", S3Config(bucket=bucket, endpoint=rgw.endpoint),
                        access_key=rgw.access_key, secret_key=rgw.secret_key)
    admin._call("create_bucket")
    city_secret = secrets.token_hex(16)
    env = {"AWS_ACCESS_KEY_ID": rgw.access_key, "AWS_SECRET_ACCESS_KEY": rgw.secret_key,
           "MOTCUA_CITY_SECRET": city_secret}
    city = stack.enter_context(CityReceiver(city_secret.encode()))
    a_dir, b_dir = tmp_path / "worker-a", tmp_path / "worker-b"
    _cli("hub", "init", "--data-dir", str(a_dir), "--db", pg_dsn, "--blobs", f"s3://{bucket}",
         "--s3-endpoint", rgw.endpoint, "--kem", "X25519", env=env)
    config = json.loads((a_dir / "hub.json").read_text())
    config["city"] = {"url": city.url, "status_map": {"DANG_XU_LY": 4, "DA_TRA_KET_QUA": 10}}
    (a_dir / "hub.json").write_text(json.dumps(config))
    shutil.copytree(a_dir, b_dir)  # the same keys and configuration; a landing zone of its own
    for d in (b_dir / "partial", b_dir / "blobs"):
        shutil.rmtree(d)
        d.mkdir()
    token = json.loads(_cli("hub", "add-station", "HN-0001", "--agency", AGENCY, "--data-dir", str(a_dir), "--json",
                            env=env))["token"]
    url_a, _, proc_a = hub_process(a_dir, env=env)
    url_b, _, proc_b = hub_process(b_dir, env=env)
    lb = haproxy([url_a, url_b])

    box = Station(lb, "HN-0001")
    assert _retrying(lambda: box.enroll(token)).status == 200
    pages = [os.urandom(2 * PART_SIZE + 1_000_000), os.urandom(40_000)]
    manifest = fake_manifest("HN-0001", blobs=pages)
    dossier_id = manifest["dossier_id"]
    assert _retrying(lambda: box.put(manifest)).status == 201

    # Which worker serves this box? Send a chunk, then kill that worker (SIGKILL: no clean stop).
    big = pages[0]
    sha = hashlib.sha256(big).hexdigest()
    chunk = 3_000_000
    offset = 0
    for _ in range(3):
        reply = _retrying(lambda offset=offset: box.patch(dossier_id, sha, offset, big[offset:offset + chunk]))
        assert reply.status == 204
        offset = int(reply.headers["upload-offset"])
    serving = proc_a if any((a_dir / "partial").iterdir()) else proc_b
    serving.send_signal(signal.SIGKILL)
    serving.wait(10)

    for page in pages:  # the box goes on: HEAD, then from the hub's offset
        page_sha = hashlib.sha256(page).hexdigest()
        for _ in range(50):
            at = int(_retrying(lambda page_sha=page_sha: box.head(dossier_id, page_sha)).headers["upload-offset"])
            if at >= len(page):
                break
            reply = _retrying(lambda at=at, page=page, page_sha=page_sha:
                              box.patch(dossier_id, page_sha, at, page[at:at + chunk]))
            assert reply.status in (204, 409), reply.body
        assert at == len(page)
    assert at == len(pages[-1])
    commit = _retrying(lambda: box.commit(manifest))
    assert commit.status == 200, commit.body
    again = _retrying(lambda: box.commit(manifest))
    assert again.body == commit.body  # a repeated commit: the same receipt

    listed = json.loads(_cli("hub", "dossiers", "--json", "--data-dir", str(a_dir), env=env))
    assert [(d["dossier_id"], d["state"]) for d in listed] == [(dossier_id, "committed")]
    keys = sorted(o["Key"] for o in admin._call("list_objects_v2").get("Contents", []))
    assert keys == sorted(hashlib.sha256(p).hexdigest() for p in pages)  # each object once, no upload left
    for page in pages:
        with admin.open(hashlib.sha256(page).hexdigest()) as r:
            assert r.read() == page
    admin.close()

    # The surviving worker delivers the dossier to the city system once; its answer comes back.
    deadline = time.monotonic() + 30
    while not city.events:
        assert time.monotonic() < deadline, "the city system never got the dossier"
        time.sleep(0.2)
    time.sleep(2.5)  # a further delivery round of each worker: nothing more goes out
    assert list(city.events) == [f"dossier-committed:{dossier_id}"] and len(city.deliveries) == 1
    body = json.dumps({"code": manifest["code"], "status": "DANG_XU_LY"}).encode()
    ts = int(time.time() * 1000)
    mac = hmac.new(city_secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(lb + "/v1/city/status", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Motcua-City-Signature": f"t={ts},v1={mac}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["changed"]
    items = parse_feed_page(_retrying(lambda: box.feed()).json)[0]
    assert [i.data["status"] for i in items if i.type == "dossier_status"] == [2, 4]

