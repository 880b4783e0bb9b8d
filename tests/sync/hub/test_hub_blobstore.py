"""The hub's blob store, one suite for both backends: the data directory and S3 (a real Ceph RGW).

The S3 backend's gateway is started once for the session (``rgw`` in tests/sync/conftest.py);
each test gets a bucket of its own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

import pytest
from hubclient import Station, fake_manifest

from sync.hub import (
    BlobConfigError,
    BlobCorrupt,
    BlobUnavailable,
    LocalBlobStore,
    S3BlobStore,
    S3Config,
)
from sync.hub._s3 import PART_SIZE


def _s3(data_dir: Path, rgw, bucket: str, *, endpoint: str | None = None, secret: str | None = None) -> S3BlobStore:
    return S3BlobStore(data_dir, S3Config(bucket=bucket, endpoint=endpoint or rgw.endpoint),
                       access_key=rgw.access_key, secret_key=secret or rgw.secret_key)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def make_store(request, tmp_path: Path):
    """``make_store(name)``: a blob store as one hub worker sees it (``name`` its host).

    Local: every worker shares the data directory. S3: every worker has a landing zone of its own
    and they share the bucket.
    """
    stores = []
    bucket = f"motcua-{secrets.token_hex(6)}"
    if request.param == "s3":
        rgw = request.getfixturevalue("rgw")

    def make(name: str = "a"):
        if request.param == "local":
            store = LocalBlobStore(tmp_path / "shared")
        else:
            store = _s3(tmp_path / name, rgw, bucket)
            if not stores:
                store._call("create_bucket")
        stores.append(store)
        return store

    make.kind = request.param
    yield make
    for store in stores:
        store.close()


def _upload(store, data: bytes, *, chunk: int) -> None:
    sha = hashlib.sha256(data).hexdigest()
    at = store.offset(sha, len(data))
    with store.appender(sha) as app:
        assert app.current_offset() == at
        while at < len(data):
            piece = data[at:at + chunk]
            app.append([piece], at)
            at += len(piece)
            if at < len(data):
                app.sync()
        assert app.finish(len(data))


def _read(store, sha: str) -> bytes:
    with store.open(sha) as r:
        out = []
        while block := r.read(1 << 20):
            out.append(block)
    return b"".join(out)


def test_small_blob_round_trip(make_store) -> None:
    store = make_store()
    data = os.urandom(300_000)
    sha = hashlib.sha256(data).hexdigest()
    assert not store.is_complete(sha) and store.offset(sha, len(data)) == 0
    _upload(store, data, chunk=len(data))
    assert store.is_complete(sha) and store.offset(sha, len(data)) == len(data)
    assert _read(store, sha) == data
    assert store.verify(sha)
    assert not store.partial_path(sha).exists()  # nothing left in the landing zone


def test_large_blob_in_chunks_with_a_broken_one(make_store) -> None:
    """A connection lost mid-chunk keeps the bytes that came; the upload resumes from them."""
    store = make_store()
    data = os.urandom(2 * PART_SIZE + 3_000_000)
    sha = hashlib.sha256(data).hexdigest()
    with store.appender(sha) as app:
        app.append([data[:6_000_000]], 0)
        app.sync()
        app.abort([data[6_000_000:9_000_000]], 6_000_000)  # the rest of the chunk never came
    assert store.offset(sha, len(data)) == 9_000_000
    if make_store.kind == "s3":  # a full part went to S3 with the broken chunk's fsync
        _, remote, parts = store.remote_parts(sha)
        assert remote == PART_SIZE and len(parts) == 1
    _upload(store, data, chunk=4_000_000)
    assert _read(store, sha) == data
    if make_store.kind == "s3":
        assert store.remote_parts(sha)[0] is None  # the multipart upload is gone
        keys = [o["Key"] for o in store._call("list_objects_v2").get("Contents", [])]
        assert keys == [sha]  # written once, under its hash


def test_another_worker_resumes(make_store) -> None:
    """A worker dies mid-blob: another one resumes from what the shared storage holds."""
    a, b = make_store("a"), make_store("b")
    data = os.urandom(PART_SIZE + 2_000_000)
    sha = hashlib.sha256(data).hexdigest()
    with a.appender(sha) as app:
        app.append([data[:PART_SIZE + 1_000_000]], 0)
        app.sync()
    # Worker a is gone; b sees the durable offset (S3: the parts; local: the shared file).
    at = b.offset(sha, len(data))
    assert at == (PART_SIZE if make_store.kind == "s3" else PART_SIZE + 1_000_000)
    _upload(b, data, chunk=3_000_000)
    assert b.is_complete(sha) and a.is_complete(sha)
    assert _read(a, sha) == data


def test_wrong_bytes_are_refused_whole(make_store) -> None:
    store = make_store()
    data = os.urandom(PART_SIZE + 100)
    sha = hashlib.sha256(b"something else").hexdigest()
    with store.appender(sha) as app:
        app.append([data[:PART_SIZE]], 0)
        app.sync()
        app.append([data[PART_SIZE:]], PART_SIZE)
        assert not app.finish(len(data))
    assert store.offset(sha, len(data)) == 0 and not store.is_complete(sha)


def test_an_altered_object_is_quarantined(make_store) -> None:
    store = make_store()
    data = os.urandom(50_000)
    sha = hashlib.sha256(data).hexdigest()
    _upload(store, data, chunk=len(data))
    altered = bytes([data[0] ^ 1]) + data[1:]
    if make_store.kind == "s3":
        store._call("put_object", Key=store.key(sha), Body=altered)
        store._complete.clear()
    else:
        store.final_path(sha).write_bytes(altered)
    with pytest.raises(BlobCorrupt, match="quarantine"):
        _read(store, sha)
    assert not store.is_complete(sha)
    with pytest.raises(BlobUnavailable):
        store.open(sha)
    if make_store.kind == "s3":
        assert store._call("get_object", Key=f"quarantine/{sha}")["ContentLength"] == len(data)
    else:
        assert (store.quarantine_dir / sha).read_bytes() == altered


# --- S3 faults ---------------------------------------------------------------------------------


@pytest.mark.s3
def test_s3_unreachable_loses_nothing(rgw, tmp_path: Path) -> None:
    """S3 down: the chunk stays durable in the landing zone; once S3 is back the upload goes on."""
    bucket = f"motcua-{secrets.token_hex(6)}"
    good = _s3(tmp_path / "w", rgw, bucket)
    good._call("create_bucket")
    with socket_port() as port:
        down = _s3(tmp_path / "w", rgw, bucket, endpoint=f"http://127.0.0.1:{port}")
        data = os.urandom(PART_SIZE + 10)
        sha = hashlib.sha256(data).hexdigest()
        with pytest.raises(BlobUnavailable, match="unreachable"):
            down.is_complete(sha)
        with pytest.raises(BlobUnavailable):
            down.open(sha)
        down.close()
    with good.appender(sha) as app:
        app.append([data[:PART_SIZE]], 0)
        os.fsync(app.fd)
    assert good.offset(sha, len(data)) == PART_SIZE
    _upload(good, data, chunk=PART_SIZE)
    assert _read(good, sha) == data
    good.close()


class socket_port:
    """A loopback port nobody listens on (bound, not listening: connections are refused)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


@pytest.mark.s3
def test_s3_wrong_credentials_and_missing_bucket(rgw, tmp_path: Path) -> None:
    bad = _s3(tmp_path / "x", rgw, "motcua-missing", secret="not-the-secret")
    with pytest.raises(BlobConfigError, match="credentials"):
        bad.check()
    bad.close()
    missing = _s3(tmp_path / "y", rgw, f"motcua-{secrets.token_hex(6)}")
    with pytest.raises(BlobConfigError, match="does not exist"):
        missing.check()
    missing.close()


def test_s3_config_rejects_unknown_keys_and_bad_urls() -> None:
    with pytest.raises(BlobConfigError, match="unknown key"):
        S3Config.from_dict({"url": "s3://b", "secret_key": "x"})
    with pytest.raises(BlobConfigError, match="s3://BUCKET"):
        S3Config.from_dict({"url": "http://b"})
    cfg = S3Config.from_dict({"url": "s3://city-hub/dossiers", "endpoint": "https://rgw:7480"})
    assert (cfg.bucket, cfg.prefix) == ("city-hub", "dossiers/")
    assert S3Config.from_dict(cfg.to_dict()) == cfg


# --- through the hub's HTTP API ----------------------------------------------------------------


def test_upload_through_the_hub(make_store, hub_factory) -> None:
    """A box's dossier through the real HTTP API into the store: resumed after a stall, committed."""
    store = make_store()
    hub = hub_factory("sqlite", blobs=store)
    token = hub.add_station("HN-0001")
    box = Station(hub.url, "HN-0001")
    assert box.enroll(token).status == 200
    pages = [os.urandom(PART_SIZE + 1_500_000), os.urandom(70_000)]
    manifest = fake_manifest("HN-0001", blobs=pages)
    assert box.put(manifest).status == 201
    for page in pages:
        assert box.upload(manifest["dossier_id"], page, chunk=3_000_000).status == 204
    reply = box.commit(manifest)
    assert reply.status == 200, reply.json()
    for page in pages:
        sha = hashlib.sha256(page).hexdigest()
        assert store.is_complete(sha) and _read(store, sha) == page


@pytest.mark.s3
@pytest.mark.postgres
def test_two_workers_share_the_upload_lock(rgw, hub_factory, tmp_path: Path) -> None:
    """Blobs in S3, landing zones apart: while one worker receives a chunk, the other refuses the
    same blob (409 upload_locked, the lock in the database); once the chunk broke, it is free."""
    import http.client

    from sync.protocol import CHUNK_MEDIA_TYPE, sha256_hex

    bucket = f"motcua-{secrets.token_hex(6)}"
    store_a, store_b = _s3(tmp_path / "a", rgw, bucket), _s3(tmp_path / "b", rgw, bucket)
    store_a._call("create_bucket")
    a = hub_factory("postgres", blobs=store_a)
    b = hub_factory(worker_of=a, blobs=store_b)
    token = a.add_station("HN-0001")
    box_a = Station(a.url, "HN-0001")
    assert box_a.enroll(token).status == 200
    box_b = Station(b.url, "HN-0001", key=box_a.key)
    page = os.urandom(3_000_000)
    sha = hashlib.sha256(page).hexdigest()
    manifest = fake_manifest("HN-0001", blobs=[page])
    assert box_a.put(manifest).status == 201
    path = f"/v1/dossiers/{manifest['dossier_id']}/blobs/{sha}"

    headers = box_a.signer.headers("PATCH", path, page, content_sha256=sha256_hex(page))
    headers.update({"Content-Type": CHUNK_MEDIA_TYPE, "Upload-Offset": "0", "Content-Length": str(len(page))})
    slow = http.client.HTTPConnection("127.0.0.1", int(a.url.rsplit(":", 1)[1]), timeout=30)
    slow.putrequest("PATCH", path, skip_accept_encoding=True)
    for k, v in headers.items():
        slow.putheader(k, v)
    slow.endheaders()
    slow.send(page[:1_000_000])  # the chunk is on its way to worker a
    try:
        deadline = time.monotonic() + 10
        while True:
            reply = box_b.patch(manifest["dossier_id"], sha, 0, page)
            if reply.status == 409 and reply.code == "upload_locked":
                break
            assert time.monotonic() < deadline, f"worker b never saw the lock: {reply.status} {reply.body!r}"
            time.sleep(0.05)
    finally:
        slow.close()  # the connection breaks: worker a keeps what came and frees the blob
    deadline = time.monotonic() + 10
    while (reply := box_b.patch(manifest["dossier_id"], sha, 0, page)).status != 204:
        assert reply.code == "upload_locked" and time.monotonic() < deadline, (reply.status, reply.body)
        time.sleep(0.05)
    assert reply.headers["x-motcua-blob-state"] == "complete"
    assert store_b.is_complete(sha) and _read(store_b, sha) == page
