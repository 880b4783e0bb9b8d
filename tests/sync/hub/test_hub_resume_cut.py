"""A chunk whose connection is reset mid-body (§6.3): the hub keeps what arrived of it.

End to end, the link is cut (RST, through the fault proxy) once B bytes of a PATCH's body went up;
the hub's offset afterwards must be at least B - LOSS_BOUND, the partial file holds exactly the
blob's bytes up to it, and the blob, resumed from that offset, completes with the right SHA-256.
The client pauses before its last piece so that nothing else is still in the kernel's queues when
the reset arrives (a reset discards those, whatever the hub does): what is measured is the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.streams import StreamReader
from hubclient import Station, fake_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/sync: faultproxy

from faultproxy import FaultProxy

from sync.hub._app import _Chunk
from sync.protocol import CHUNK_MEDIA_TYPE

# What the hub may lose of a broken chunk here: the last piece the proxy forwarded before its
# reset (LAST bytes, possibly still in flight), with room to spare.
LOSS_BOUND = 64 * 1024
LAST = 16 * 1024
MiB = 1024 * 1024


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _settled_offset(st: Station, did: str, sha: str, size: int) -> int:
    """The hub's offset once it released the broken upload: an empty PATCH at an offset that is
    surely wrong answers ``upload_locked`` while the hub still writes, then ``offset_mismatch``."""
    deadline = time.monotonic() + 20
    while True:
        reply = st.signed("PATCH", f"/v1/dossiers/{did}/blobs/{sha}", b"", content_sha256=_sha(b""),
                          extra={"Content-Type": CHUNK_MEDIA_TYPE, "Upload-Offset": str(size)})
        assert reply.status == 409, (reply.status, reply.body)
        if reply.code == "offset_mismatch":
            return int(reply.headers["upload-offset"])
        assert reply.code == "upload_locked", reply.body
        assert time.monotonic() < deadline, "the hub kept the broken upload locked"
        time.sleep(0.05)


def _head_bytes(st: Station, path: str, chunk: bytes, host: str) -> bytes:
    headers = st.signer.headers("PATCH", path, chunk, content_sha256=_sha(chunk))
    headers.update({"Host": host, "Content-Type": CHUNK_MEDIA_TYPE, "Upload-Offset": "0",
                    "Content-Length": str(len(chunk)), "Connection": "close"})
    return (f"PATCH {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            + "\r\n").encode()


@pytest.mark.parametrize(("size", "chunk", "body_sent"), [
    (3 * MiB, MiB, 700_000),           # a chunk written at its end
    (10 * MiB, 10 * MiB, 6_500_000),   # a chunk larger than a write batch: written while it is read
])
def test_cut_mid_chunk_keeps_what_arrived_and_resumes(hub, size, chunk, body_sent):
    blob = os.urandom(size)
    sha = _sha(blob)
    body = blob[:chunk]
    with FaultProxy("127.0.0.1", int(hub.url.rsplit(":", 1)[1])) as proxy:
        token = hub.add_station("HN-0002")
        st = Station(proxy.url, "HN-0002")
        assert st.enroll(token).status == 200
        m = fake_manifest(st.station_id, blobs=[blob])
        did = m["dossier_id"]
        assert st.put(m).status == 201
        path = f"/v1/dossiers/{did}/blobs/{sha}"
        head = _head_bytes(st, path, body, f"127.0.0.1:{proxy.port}")
        proxy.reset_counters()
        proxy.set_mode("cut", after=len(head) + body_sent, repeat=False)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
            sock.sendall(head)
            time.sleep(0.3)  # admitted: the hub reads the body
            sock.sendall(body[:body_sent - LAST])
            time.sleep(0.5)  # all of it read by the hub
            with contextlib.suppress(OSError):
                sock.sendall(body[body_sent - LAST:body_sent + 256 * 1024])  # the proxy resets mid-way
                sock.recv(1)
        assert proxy.cuts == 1 and proxy.bytes_up == len(head) + body_sent
        proxy.set_mode("pass")

        offset = _settled_offset(st, did, sha, size)
        assert body_sent - LOSS_BOUND <= offset <= body_sent, (body_sent, offset)
        partial = hub.data_dir / "partial" / sha
        assert partial.read_bytes() == blob[:offset]  # the blob's own bytes, durable (fsynced)

        reply = None
        while offset < size:
            reply = st.patch(did, sha, offset, blob[offset:offset + MiB])
            assert reply.status == 204, (reply.status, reply.body)
            offset = int(reply.headers["upload-offset"])
        assert reply is not None and reply.headers["x-motcua-blob-state"] == "complete"
        assert st.commit(m).status == 200, st.commit(m).body
    stored = hub.data_dir / "blobs" / sha[:2] / sha
    assert _sha(stored.read_bytes()) == sha


class _Protocol:
    """What aiohttp's StreamReader asks of its protocol (flow control only)."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.mark.parametrize("hold", [64 * 1024, 4 * MiB])
def test_broken_body_keeps_the_bytes_aiohttp_had_buffered(hold):
    """aiohttp's read raises the connection error while its buffer still holds body bytes:
    those arrived, and the chunk keeps them (not only what had been read before)."""

    async def scenario() -> _Chunk:
        loop = asyncio.get_running_loop()
        content = StreamReader(_Protocol(), 1024 * 1024, loop=loop)  # type: ignore[arg-type]
        pieces = [os.urandom(200_000), os.urandom(300_000), os.urandom(123_457)]
        chunk = _Chunk(SimpleNamespace(content=content), 2 * MiB, 5.0, deadline=loop.time() + 30)
        content.feed_data(pieces[0])
        await chunk.read(100_000)  # some read, the rest of that piece still buffered
        kept = chunk.take()
        content.feed_data(pieces[1])
        content.feed_data(pieces[2])
        content.set_exception(ConnectionResetError("Connection lost"))
        while not chunk.ended:  # as the hub's receive loop does
            await chunk.read(hold)
            kept += chunk.take()
        assert chunk.broken
        assert b"".join(kept) == b"".join(pieces)
        return chunk

    chunk = asyncio.run(scenario())
    assert chunk.received == 623_457 and not chunk.overdue
