"""SystemHealth's four checks: systemd and the service-user commands are replaced at the process
boundary (``run``); the web check talks to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading

import pytest

from edge.updater import SystemHealth


class Web:
    def __init__(self, status: int) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.status = status
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def web():
    w = Web(200)
    yield w
    w.close()


def fake_run(*, active="active", check_rc=0, last_success=None):
    calls = []

    def run(argv, **kw):
        calls.append(argv)
        if argv[:2] == ["systemctl", "is-active"]:
            return subprocess.CompletedProcess(argv, 0 if active == "active" else 3, stdout=active + "\n", stderr="")
        if argv[-1] == "check":
            return subprocess.CompletedProcess(argv, check_rc, stdout="checked 3 dossiers: OK" if not check_rc
                                               else "BROKEN: blob x", stderr="")
        if argv[-3:] == ["sync", "status", "--json"]:
            return subprocess.CompletedProcess(argv, 0, stdout=json.dumps({"last_success_at": last_success}), stderr="")
        raise AssertionError(argv)

    run.calls = calls
    return run


SINCE = "2026-12-02T02:10:00+00:00"
AFTER = "2026-12-02T09:11:00+07:00"  # 02:11 UTC: after the install began, in Vietnam time


def health(run, url, **kw):
    return SystemHealth(web_url=url, timeout=0, interval=0, run=run, **kw)


def test_a_healthy_box_has_no_problem(web):
    run = fake_run(last_success=AFTER)
    assert health(run, web.url).problems(since=SINCE) == []
    assert any(a[-1] == "check" and "motcua" in " ".join(a) for a in run.calls)  # as the service user


def test_each_failure_is_named(web):
    web.status = 502
    found = health(fake_run(active="activating", check_rc=1, last_success="2026-12-02T09:09:00+07:00"),
                   web.url).problems(since=SINCE)
    assert len(found) == 4, found
    assert "is activating" in found[0] and "motcua check failed" in found[1] and "502" in found[2]
    assert "no exchange with the hub since" in found[3]


def test_a_silent_web_app_and_a_box_that_never_synced(web):
    url = web.url
    web.close()
    found = health(fake_run(last_success=None), url).problems(since=SINCE)
    assert any("does not answer" in p for p in found) and any("last never" in p for p in found)


def test_checks_are_retried_until_the_deadline(web):
    state = {"n": 0}
    base = fake_run(last_success=AFTER)

    def slow_start(argv, **kw):
        if argv[:2] == ["systemctl", "is-active"]:
            state["n"] += 1
            if state["n"] < 3:
                return subprocess.CompletedProcess(argv, 3, stdout="activating\n", stderr="")
        return base(argv, **kw)

    h = SystemHealth(web_url=web.url, timeout=30, interval=0.01, run=slow_start)
    assert h.problems(since=SINCE) == [] and state["n"] == 3
