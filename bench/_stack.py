"""Real stacks for the city-scale tests and benchmark: a one-node Ceph with the RADOS Gateway
(S3 API) on 127.0.0.1, and HAProxy in front of hub workers.

Monitor, manager, one OSD on ``memstore`` (no disk), radosgw; no authentication between the
daemons (/work/shared/TESTING.md has the recipe). :func:`start_rgw` brings it up in a scratch
directory (about a minute, ~430 MB) and returns a :class:`Rgw`; :meth:`Rgw.stop` stops every daemon
by its PID and removes the directory. Start it once per test session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("ceph-mon", "ceph-osd", "ceph-mgr", "radosgw", "radosgw-admin", "ceph")


class RgwUnavailable(Exception):
    """The daemons cannot start on this machine (missing packages, or they failed)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Rgw:
    root: Path
    endpoint: str
    access_key: str
    secret_key: str
    procs: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # the OSD may need a second signal
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def pause(self) -> None:
        """Stop the gateway answering (SIGSTOP): S3 unreachable."""
        self.procs[-1].send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.procs[-1].send_signal(signal.SIGCONT)


def start_rgw(timeout: float = 180.0, attempts: int = 2) -> Rgw:
    """Start the cluster; a daemon that fails on its first start (it happens) gets one more try."""
    for attempt in range(attempts):
        try:
            return _start_rgw(timeout)
        except RgwUnavailable:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _start_rgw(timeout: float) -> Rgw:
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        raise RgwUnavailable(f"Ceph is not installed ({', '.join(missing)} missing: "
                             "apt-get install ceph-mon ceph-osd ceph-mgr radosgw ceph-common)")
    root = Path(tempfile.mkdtemp(prefix="motcua-ceph-"))
    mon_port, rgw_port = _free_port(), _free_port()
    conf = root / "ceph.conf"
    conf.write_text(f"""[global]
fsid = {uuid.uuid4()}
mon host = v1:127.0.0.1:{mon_port}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd objectstore = memstore
memstore device bytes = 2147483648
osd crush chooseleaf type = 0
run dir = {root}/run
log file = {root}/log/$name.log
admin socket = {root}/run/$name.asok
mon data = {root}/mon/$name
osd data = {root}/osd/$name
mgr data = {root}/mgr/$name
osd max object name len = 460
osd max object namespace len = 64
mon warn on pool no redundancy = false
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw data = {root}/rgw
""")
    for sub in ("run", "log", "mon/mon.a", "osd/osd.0", "mgr/mgr.x", "rgw"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rgw = Rgw(root=root, endpoint=f"http://127.0.0.1:{rgw_port}", access_key=secrets.token_hex(10).upper(),
              secret_key=secrets.token_hex(20))
    c = ["-c", str(conf)]

    def run(*cmd: str) -> str:
        res = subprocess.run([*cmd, *c], capture_output=True, text=True, timeout=120, check=False)
        if res.returncode != 0:
            raise RgwUnavailable(f"{' '.join(cmd)} failed: {res.stderr.strip()[-400:]}")
        return res.stdout

    def daemon(*cmd: str) -> None:
        rgw.procs.append(subprocess.Popen([*cmd, *c, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))

    try:
        run("ceph-mon", "--mkfs", "-i", "a")
        daemon("ceph-mon", "-i", "a")
        osd_uuid = str(uuid.uuid4())
        run("ceph", "osd", "create", osd_uuid)
        run("ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        run("ceph", "osd", "crush", "add", "osd.0", "1.0", "host=localhost", "root=default")
        daemon("ceph-osd", "-i", "0")
        daemon("ceph-mgr", "-i", "x")
        daemon("radosgw", "-n", "client.rgw")
        deadline = time.monotonic() + timeout
        while True:
            for proc in rgw.procs:
                if proc.poll() is not None:
                    raise RgwUnavailable(f"{proc.args[0]} exited with {proc.returncode} (logs in {root}/log)")
            try:
                urllib.request.urlopen(rgw.endpoint, timeout=2).read()
                break
            except urllib.error.HTTPError:  # an S3 error answer: the gateway is up
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RgwUnavailable(f"radosgw did not answer on {rgw.endpoint} within {timeout:g} s")
            time.sleep(1)
        run("radosgw-admin", "user", "create", "--uid=hub", "--display-name=hub",
            f"--access-key={rgw.access_key}", f"--secret={rgw.secret_key}")
    except BaseException:
        keep = os.environ.get("MOTCUA_CEPH_KEEP_LOGS")
        if keep:
            shutil.copytree(root / "log", keep, dirs_exist_ok=True)
        rgw.stop()
        raise
    return rgw


HAPROXY_CFG = """global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch
    retry-on conn-failure empty-response
frontend hub
    bind 127.0.0.1:{port}
    default_backend workers
backend workers
    # A box sticks to one worker while it is up (its landing zone holds the tail of its upload).
    balance hdr(X-Motcua-Station)
    hash-type consistent
    option httpchk GET /v1/time
    default-server check inter 300ms fall 1 rise 2
{servers}
"""


@dataclass
class LoadBalancer:
    url: str
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def start_haproxy(workers: list[str], config_path: Path) -> LoadBalancer:
    """HAProxy (Debian ``haproxy``) on a free loopback port in front of ``workers`` (their URLs)."""
    if shutil.which("haproxy") is None:
        raise RgwUnavailable("haproxy is not installed (apt-get install haproxy)")
    port = _free_port()
    servers = "\n".join(f"    server w{i} {u.split('//', 1)[1].rstrip('/')}" for i, u in enumerate(workers))
    config_path.write_text(HAPROXY_CFG.format(port=port, servers=servers))
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(config_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    lb = LoadBalancer(url=f"http://127.0.0.1:{port}", proc=proc)
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(lb.url + "/v1/time", timeout=2).read()
            return lb
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                lb.stop()
                raise RgwUnavailable(f"haproxy did not start ({exc})") from None
            time.sleep(0.2)


if __name__ == "__main__":  # a manual check: python -m bench._stack
    t = time.monotonic()
    r = start_rgw()
    print("up", r.endpoint, f"{time.monotonic() - t:.0f} s", os.getpid())
    r.stop()
