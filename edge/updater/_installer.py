"""Installing one version of the ``motcua`` package: with apt from the city's repository, or dpkg."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Protocol

from ._errors import InstallError

PACKAGE = "motcua"


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
                 arch: str | None = None, env: dict[str, str] | None = None) -> None:
        self.pool = Path(pool)
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
        _run(["dpkg", *self._opts(), "--force-confold", "-i", str(deb)], env=self.env)


class AptInstaller:
    """``apt-get install motcua=<version>`` from the signed city repository (downgrades allowed)."""

    def installed_version(self) -> str | None:
        return DpkgInstaller(Path("/nonexistent")).installed_version()

    def install(self, version: str) -> None:
        _run(["apt-get", "update", "-qq"])
        _run(["apt-get", "install", "-y", "-qq", "--allow-downgrades", "-o", "Dpkg::Options::=--force-confold",
              f"{PACKAGE}={version}"])
