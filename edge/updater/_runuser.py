"""The :class:`~edge.updater.Box` seen from root: the store is read and written by the service user.

Root never opens the store itself (its files must stay the service user's); it runs
``motcua update pending|record|report`` as that user (:func:`as_user`) and verifies the update command's signature
itself, with the receipt key first boot wrote to ``/etc/motcua`` (root's own trust anchor).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from ._box import PendingUpdate, verify_update
from ._errors import UpdateError


def as_user(user: str, argv: list[str]) -> list[str]:
    """``argv`` run as ``user``: a transient unit of systemd (the updater's unit keeps no CAP_SETUID),
    or ``runuser`` where systemd does not run (development)."""
    if Path("/run/systemd/system").is_dir():
        return ["systemd-run", "--quiet", "--pipe", "--wait", "--collect", f"--uid={user}", f"--gid={user}",
                "--property=UMask=0077", "--", *argv]
    return ["runuser", "-u", user, "--", *argv]


class RunuserBox:
    def __init__(self, *, user: str, motcua: str, receipt_key_file: Path) -> None:
        self.user, self.motcua, self.receipt_key_file = user, motcua, receipt_key_file
        self._state: dict[str, Any] | None = None

    def _call(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(as_user(self.user, [self.motcua, "update", *args]), input=stdin,
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise UpdateError(f"motcua update {args[0]} failed: {out.stderr.strip()[-300:]}")
        return out.stdout

    def _pending(self) -> dict[str, Any]:
        if self._state is None:
            self._state = json.loads(self._call("pending"))
        return self._state

    def pending_update(self) -> PendingUpdate | None:
        state = self._pending()
        signed = state.get("signed")
        if signed is None:
            return None
        last = state.get("last_result") or {}
        if signed.get("command", {}).get("command_id") == last.get("command_id"):
            return None
        try:
            key = base64.b64decode(self.receipt_key_file.read_text().strip(), validate=True)
        except (OSError, ValueError) as exc:
            raise UpdateError(f"hub receipt key {self.receipt_key_file} unreadable: {exc}") from None
        return verify_update(signed, key, station_id=state["station_id"])

    def intake_busy(self) -> str | None:
        return self._pending().get("busy")

    def schema_min_version(self) -> str | None:
        return self._pending().get("schema_min_version")

    def last_result(self) -> dict[str, Any] | None:
        return self._pending().get("last_result")

    def web_url(self) -> str:
        return self._pending().get("web_url") or "http://127.0.0.1:8080/"

    def record(self, result: dict[str, Any]) -> None:
        self._call("record", stdin=json.dumps(result))
        self._pending()["last_result"] = result

    def report(self, result: dict[str, Any]) -> None:
        self._call("report", stdin=json.dumps(result))
