"""One run of the updater: take the pending update, install, check, roll back if unhealthy, report."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from edge.store import version_key

from ._box import Box, PendingUpdate, result_dict
from ._errors import InstallError
from ._health import HealthCheck
from ._installer import PackageInstaller

logger = logging.getLogger(__name__)


@dataclass
class UpdateResult:
    """What a run did: ``outcome`` is None when there was nothing to do or it had to wait."""

    outcome: str | None  # installed | rolled_back | failed | None
    message: str
    result: dict[str, Any] | None = None
    reported: bool = False
    problems: list[str] = field(default_factory=list)


class Updater:
    def __init__(self, *, box: Box, installer: PackageInstaller, health: HealthCheck, now=None) -> None:
        self.box = box
        self.installer = installer
        self.health = health
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    def run(self) -> UpdateResult:
        last = self.box.last_result()
        if last is not None and not last.get("reported"):
            self._report(last)  # a report the hub did not get last time
        pending = self.box.pending_update()
        if pending is None:
            return UpdateResult(None, "no update pending", last, bool(last and last.get("reported")))
        busy = self.box.intake_busy()
        if busy:
            logger.info("update to %s waits: %s", pending.version, busy)
            return UpdateResult(None, f"update to {pending.version} waits: {busy}")
        previous = self.installer.installed_version()
        if previous == pending.version:
            return self._finish(pending, "installed", previous, "already running this version")
        started = self._now().isoformat(timespec="seconds")
        try:
            self.installer.install(pending.version)
        except InstallError as exc:
            logger.error("install of %s failed: %s", pending.version, exc)
            return self._back(pending, previous, [f"install failed: {exc}"], started)
        problems = self.health.problems(since=started)
        if not problems:
            return self._finish(pending, "installed", pending.version, "")
        logger.error("motcua %s is not healthy: %s", pending.version, "; ".join(problems))
        return self._back(pending, previous, problems, started)

    def _back(self, pending: PendingUpdate, previous: str | None, problems: list[str], started: str) -> UpdateResult:
        """Reinstall ``previous`` unless the store was already contracted past it (docs/deploy.md §7)."""
        detail = "; ".join(problems)
        if previous is None:
            return self._finish(pending, "failed", self.installer.installed_version() or "", detail, problems)
        floor = self.box.schema_min_version()
        if floor and version_key(previous) < version_key(floor):
            return self._finish(pending, "failed", self.installer.installed_version() or "",
                                f"{detail}; no rollback: the store needs motcua {floor} or newer", problems)
        try:
            self.installer.install(previous)
        except InstallError as exc:
            return self._finish(pending, "failed", self.installer.installed_version() or "",
                                f"{detail}; rollback to {previous} failed: {exc}", problems)
        after = self.health.problems(since=started)
        if after:
            return self._finish(pending, "failed", previous, f"{detail}; after rollback: {'; '.join(after)}", problems)
        return self._finish(pending, "rolled_back", previous, detail, problems)

    def _finish(self, pending: PendingUpdate, outcome: str, running: str, detail: str,
                problems: list[str] | None = None) -> UpdateResult:
        result = result_dict(pending, outcome=outcome, running_version=running, detail=detail[:500],
                             at=self._now().isoformat(timespec="seconds"), reported=False)
        self.box.record(result)  # first on the box: a lost report is sent again at the next run
        reported = self._report(result)
        return UpdateResult(outcome, f"{outcome}: motcua {running}" + (f" ({detail})" if detail else ""),
                            result, reported, problems or [])

    def _report(self, result: dict[str, Any]) -> bool:
        try:
            self.box.report(result)
        except Exception as exc:  # the hub may be unreachable: reported at the next run
            logger.warning("update report not delivered (sent again at the next run): %s", exc)
            return False
        self.box.record({**result, "reported": True})
        result["reported"] = True
        return True
