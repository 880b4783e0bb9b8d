"""Run a shipped unit's command the way systemd would, without systemd: in a scratch root, as its users.

``Unit`` parses a unit file (repeated keys kept in order). ``Scratch`` is a root directory that
every absolute path of the unit (/var, /etc, /boot, /media, /run/media, /mnt) is moved into, with
real system users standing in for the unit's ``User=`` (created with ``useradd --system``, removed
at the end). ``Scratch.command`` applies what can be applied without PID 1:

- ``User=``/``Group=`` (no supplementary groups), ``UMask=``, ``Environment=``;
- ``StateDirectory=``/``RuntimeDirectory=`` (owned by the user) and ``ConfigurationDirectory=``
  (owned by root) with their modes, as systemd creates them;
- ``NoNewPrivileges=yes`` and ``CapabilityBoundingSet=`` through ``setpriv``;
- ``PrivateNetwork=yes`` through ``unshare --net``.

The rest of the sandbox (``ProtectSystem=``, ``ReadWritePaths=``, the system-call filter,
``PrivateUsers=``, ``DevicePolicy=`` …) needs systemd's mount and seccomp set-up and is checked
only statically (tests/systemd/test_units.py: ``systemd-analyze verify`` and ``security``).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS_DIR = ROOT / "systemd"
INSTALLED = "/opt/motcua/venv/bin/motcua"
MOVED = ("/var/", "/etc/", "/boot/", "/media", "/run/media", "/mnt")


class Unit:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sections: dict[str, list[tuple[str, str]]] = {}
        section = ""
        text = (UNITS_DIR / name).read_text().replace("\\\n", " ")  # continuation lines
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                self.sections.setdefault(section, [])
                continue
            key, _, value = line.partition("=")
            self.sections[section].append((key.strip(), value.strip()))

    def all(self, key: str, section: str = "Service") -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]

    def get(self, key: str, default: str = "", section: str = "Service") -> str:
        values = self.all(key, section)
        return values[-1] if values else default

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.get("ExecStart"))

    @property
    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for value in self.all("Environment"):
            for item in shlex.split(value):
                k, _, v = item.partition("=")
                env[k] = v
        return env


def motcua_entry() -> str:
    return str(Path(sys.executable).parent / "motcua")


class Scratch:
    """A scratch root (world-traversable, so that service users reach their files) and its users."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="motcua-units-"))
        os.chmod(self.root, 0o755)
        self.users: dict[str, str] = {}   # the unit's user name -> the stand-in's name
        self.tag = uuid.uuid4().hex[:6]

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def user(self, unit_user: str) -> pwd.struct_passwd:
        """The stand-in system user for ``unit_user`` (created once per scratch root)."""
        if unit_user not in self.users:
            name = f"mt{self.tag}{len(self.users)}"
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
            self.users[unit_user] = name
        return pwd.getpwnam(self.users[unit_user])

    def rewrite(self, arg: str) -> str:
        if arg == INSTALLED:
            return motcua_entry()
        if arg.startswith(MOVED):
            return str(self.path(arg))
        return arg

    def directories(self, unit: Unit) -> None:
        """Create the unit's State/Runtime/Configuration directories as systemd would."""
        user = unit.get("User")
        ids = (self.user(user).pw_uid, self.user(user).pw_gid) if user else (0, 0)
        for key, base, owner in (("StateDirectory", "/var/lib", ids), ("RuntimeDirectory", "/run", ids),
                                 ("ConfigurationDirectory", "/etc", (0, 0))):
            mode = int(unit.get(f"{key}Mode", "0755"), 8)
            for name in " ".join(unit.all(key)).split():
                path = self.path(f"{base}/{name}")
                path.mkdir(parents=True, exist_ok=True)
                os.chown(path, *owner)
                os.chmod(path, mode)

    def command(self, unit: Unit, *extra: str, replace: dict[str, str] | None = None) -> tuple[list[str], dict[str, str], int]:
        """argv, environment and umask to run ``unit``'s ExecStart in this root as its user."""
        argv = [self.rewrite(a) for a in unit.argv]
        for i, a in enumerate(argv[:-1]):  # the service user a unit hands files to: its stand-in
            if a == "--owner":
                argv[i + 1] = self.user(argv[i + 1]).pw_name
        for old, new in (replace or {}).items():
            argv = [new if a == old else a for a in argv]
        argv += list(extra)
        wrap: list[str] = []
        user = unit.get("User")
        if user:
            pw = self.user(user)
            group = unit.get("Group") or user
            gid = grp.getgrnam(self.users.get(group, group)).gr_gid if group != user else pw.pw_gid
            wrap += ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={gid}", "--clear-groups"]
        if unit.get("NoNewPrivileges") == "yes":
            wrap = (wrap or ["setpriv"]) + ["--no-new-privs"]
        caps = [c for v in unit.all("CapabilityBoundingSet") for c in v.split()]
        if unit.all("CapabilityBoundingSet"):
            keep = "".join(f",+{c.lower().removeprefix('cap_')}" for c in caps)
            wrap = (wrap or ["setpriv"]) + [f"--bounding-set=-all{keep}", "--inh-caps=-all"]
        if unit.get("PrivateNetwork") == "yes":
            wrap = ["unshare", "--net", "--", *wrap]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **unit.environment}
        return [*wrap, *argv], env, int(unit.get("UMask", "0022"), 8)

    def run(self, unit: Unit, *extra: str, env: dict[str, str] | None = None, timeout: float = 180,
            replace: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        self.directories(unit)
        argv, base, umask = self.command(unit, *extra, replace=replace)
        return subprocess.run(argv, env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout,
                              umask=umask, cwd="/")

    def start(self, unit: Unit, *extra: str, env: dict[str, str] | None = None,
              replace: dict[str, str] | None = None) -> subprocess.Popen:
        self.directories(unit)
        argv, base, umask = self.command(unit, *extra, replace=replace)
        return subprocess.Popen(argv, env={**base, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                umask=umask, cwd="/")

    def as_user(self, unit_user: str, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        pw = self.user(unit_user)
        return subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", *argv],
                              capture_output=True, text=True, timeout=timeout, cwd="/",
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        for name in self.users.values():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(["userdel", name], capture_output=True, timeout=30)
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(["groupdel", name], capture_output=True, timeout=30)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    """Stop a started unit command by its PID (SIGTERM, then SIGKILL) and return its output."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out, err = proc.communicate()
    return out.decode(errors="replace"), err.decode(errors="replace")
