"""Installing one version of the ``motcua`` package: with apt from the city's repository, or dpkg."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

from ._errors import InstallError

PACKAGE = "motcua"
logger = logging.getLogger(__name__)


class PackageInstaller(Protocol):
    def installed_version(self) -> str | None: ...

    def install(self, version: str) -> None:
        """Install exactly ``version`` (up or down); raise :class:`InstallError` on failure."""


def _run(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", **(env or {})})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{argv[0]} failed: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise InstallError(f"{' '.join(argv[:3])} … exited {done.returncode}: {' | '.join(tail)}"[:500])
    return done.stdout


def deb_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf"}.get(machine, machine)


class DpkgInstaller:
    """``dpkg -i POOL/motcua_<version>_<arch>.deb``; ``root``/``admindir`` for a scratch root (tests)."""

    def __init__(self, pool: Path, *, root: Path | None = None, admindir: Path | None = None,
                 arch: str | None = None, env: dict[str, str] | None = None,
                 options: tuple[str, ...] = ()) -> None:
        self.pool = Path(pool)
        self.options = options  # e.g. --force-script-chrootless for an image tree
        self.root = root
        self.admindir = admindir
        self.arch = arch or deb_arch()
        self.env = env

    def _opts(self) -> list[str]:
        opts = []
        if self.root is not None:
            opts.append(f"--root={self.root}")
        if self.admindir is not None:
            opts.append(f"--admindir={self.admindir}")
        return opts

    def installed_version(self) -> str | None:
        try:
            out = subprocess.run(["dpkg-query", *self._opts(), "-W", "-f=${Status}\t${Version}", PACKAGE],
                                 capture_output=True, text=True, timeout=60)
        except OSError:
            return None
        if out.returncode != 0 or "\t" not in out.stdout:
            return None
        status, version = out.stdout.split("\t", 1)
        return version.strip() if status.endswith(" installed") else None

    def install(self, version: str) -> None:
        deb = self.pool / f"{PACKAGE}_{version}_{self.arch}.deb"
        if not deb.is_file():
            raise InstallError(f"no package {deb.name} in {self.pool}")
        _run(["dpkg", *self._opts(), *self.options, "--force-confold", "-i", str(deb)], env=self.env)


class AptInstaller(DpkgInstaller):
    """From the signed city repository with apt, keeping each installed version's .deb on the box.

    Rolling back must not need the network, nor the repository to still list the old version
    (reprepro keeps one version per distribution): before a new version is installed, the .deb of
    the running one is kept in ``pool`` (from apt's cache, where apt left it when it installed it;
    an image build puts the first one there), and a version found in ``pool`` is installed from it
    with dpkg. The last ``keep`` versions stay.
    """

    def __init__(self, pool: Path = Path("/var/lib/motcua-updater/pool"), *,
                 apt_cache: Path = Path("/var/cache/apt/archives"), keep: int = 3, **dpkg: Any) -> None:
        super().__init__(pool, **dpkg)
        self.apt_cache = apt_cache
        self.keep = keep

    def _cached(self, version: str) -> Path:
        return self.apt_cache / f"{PACKAGE}_{version.replace(':', '%3a')}_{self.arch}.deb"

    def keep_version(self, version: str) -> bool:
        """Copy ``version``'s .deb from apt's cache into the pool (if apt still has it)."""
        target = self.pool / f"{PACKAGE}_{version}_{self.arch}.deb"
        if target.is_file():
            return True
        source = self._cached(version)
        if not source.is_file():
            return False
        self.pool.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        return True

    def _prune(self, running: str) -> None:
        debs = sorted(self.pool.glob(f"{PACKAGE}_*_{self.arch}.deb"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in debs[self.keep:]:
            if old.name != f"{PACKAGE}_{running}_{self.arch}.deb":
                old.unlink(missing_ok=True)

    def install(self, version: str) -> None:
        running = self.installed_version()
        if running is not None and not self.keep_version(running):
            logger.warning("no .deb of the running motcua %s on this box: a rollback will need the repository", running)
        if (self.pool / f"{PACKAGE}_{version}_{self.arch}.deb").is_file():
            super().install(version)
        else:
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "install", "-y", "-qq", "--allow-downgrades", "-o", "Dpkg::Options::=--force-confold",
                  f"{PACKAGE}={version}"])
            self.keep_version(version)
        self._prune(version)
