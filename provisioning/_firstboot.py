"""``motcua firstboot``: from a bundle on the boot partition or a USB stick to an enrolled box.

Each step is idempotent and recorded in ``STATE_DIR/firstboot/journal.json`` (written atomically)
once it is done, so a power cut at any point leaves a state the next run finishes:

1. ``stage``         find the bundle, verify its signature, copy it into the state dir (0600)
2. ``scrub_source``  remove the bundle (and its token) from the boot partition / USB stick
3. ``config``        write ``edge.toml`` and the trust anchors into the config dir
4. ``store``         initialise the encrypted store with the city key from the bundle
5. ``station_key``   generate the station's Ed25519 identity on the box
6. ``owner``         hand the state dir to the service user
   — local set-up ends here (``motcua-firstboot.service``, root, no network): the clerk app starts
   and intake works without the network —
7. ``enroll``        enroll with the hub, retrying with backoff until it answers
                     (``motcua-enroll.service``, as the service user)
8. ``destroy_token`` scrub the staged bundle copy (the token is spent), then mark ``.provisioned``
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import glob
import grp
import hashlib
import inspect
import json
import logging
import os
import pwd
import shutil
import signal
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from edge.config import load_settings

from ._bundle import SUFFIX, BundlePayload, verify_bundle
from ._errors import BundleError, EnrollmentError, FirstbootError
from ._files import scrub, write_atomic
from ._keys import load_public_key
from ._notify import sd_notify, status

logger = logging.getLogger(__name__)

STEPS = ("stage", "scrub_source", "config", "store", "station_key", "owner", "enroll", "destroy_token")
DEFAULT_SEARCH = ("/boot/firmware/motcua", "/boot/motcua", "/media/*/motcua", "/media/*/*/motcua",
                  "/run/media/*/*/motcua", "/mnt/*/motcua")
DEFAULT_PUBLIC_KEY = Path("/etc/motcua/provisioning.pub")
DEFAULT_CONFIG_DIR = Path("/etc/motcua")
PROVISIONED = ".provisioned"
SERIAL_FILES = ("/sys/firmware/devicetree/base/serial-number", "/proc/device-tree/serial-number")
KILL_ENV = "MOTCUA_FIRSTBOOT_KILL_AT"  # test hook: "<step>" (after its work), "<step>:before", "store:during"
CA_FILE, RECEIPT_FILE, CITY_FILE = "hub-ca.pem", "hub-receipt.pub", "city.pub"

EnrollFn = Callable[..., Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstbootOptions:
    state_dir: Path
    public_key: Path = DEFAULT_PUBLIC_KEY
    config_dir: Path = DEFAULT_CONFIG_DIR
    search: tuple[str, ...] = DEFAULT_SEARCH
    serial: str | None = None
    owner: str | None = None
    local: bool = True                  # the local steps 1-6 (root, no network needed)
    enroll: bool = True                 # steps 7-8 (the service user, network)
    max_attempts: int | None = None     # None: retry until the hub answers
    backoff_base: float = 5.0
    backoff_cap: float = 600.0


@dataclass(kw_only=True)
class FirstbootReport:
    station_id: str
    done: list[str] = field(default_factory=list)      # steps done in this run
    skipped: list[str] = field(default_factory=list)   # steps already done by an earlier run
    enrolled: bool = False
    pending: str = ""                                   # why enrollment is still pending


class Journal:
    """The step journal: which steps are done, and the non-secret facts they established."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            self.data = {"version": 1, "steps": {}}
        except ValueError as exc:  # written atomically, so this is damage, not a torn write
            raise FirstbootError(f"first-boot journal {path} is damaged ({exc}); remove it to start over") from None

    def done(self, step: str) -> bool:
        return step in self.data["steps"]

    def mark(self, step: str, **facts: Any) -> None:
        self.data["steps"][step] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.note(**facts)

    def note(self, **facts: Any) -> None:
        """Record facts without finishing a step (e.g. that a step has begun)."""
        self.data.update(facts)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode(), mode=0o600)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def _kill_hook(step: str, when: str) -> None:
    """Test hook at the OS boundary: die by SIGKILL exactly here, as a power cut would."""
    target = os.environ.get(KILL_ENV, "")
    if target and target == (step if when == "after" else f"{step}:{when}"):
        os.kill(os.getpid(), signal.SIGKILL)


def _same_file(search: Sequence[str], data: bytes) -> str:
    for pattern in search:
        for directory in sorted(glob.glob(pattern)):
            for path in sorted(Path(directory).glob(f"*{SUFFIX}")):
                with contextlib.suppress(OSError):
                    if path.read_bytes() == data:
                        return str(path)
    return ""


def machine_serial() -> str | None:
    for name in SERIAL_FILES:
        with contextlib.suppress(OSError):
            text = Path(name).read_bytes().rstrip(b"\0").decode(errors="replace").strip()
            if text:
                return text
    return None


def find_bundle(search: Sequence[str], public_key_path: Path, serial: str | None) -> tuple[Path, bytes, BundlePayload]:
    """The one bundle meant for this box: signature verified, serial matched when several exist."""
    key = load_public_key(public_key_path)
    candidates: list[Path] = []
    for pattern in search:
        for directory in sorted(glob.glob(pattern)):
            candidates.extend(sorted(Path(directory).glob(f"*{SUFFIX}")))
    if not candidates:
        raise FirstbootError("no provisioning bundle found (looked for *" + SUFFIX + " in " + ", ".join(search)
                             + "); copy this box's bundle to /boot/firmware/motcua/ or a USB stick folder motcua/",
                             message_vi="Không tìm thấy gói cấu hình trạm; liên hệ bộ phận CNTT.")
    good: list[tuple[Path, bytes, BundlePayload]] = []
    problems: list[str] = []
    for path in candidates:
        try:
            data = path.read_bytes()
            good.append((path, data, verify_bundle(data, key, origin=str(path))))
        except (BundleError, OSError) as exc:
            problems.append(str(exc))
    if serial:
        mine = [g for g in good if g[2].serial.lower() == serial.lower()]
        if not mine and len(good) == 1 and len(candidates) == 1:
            raise BundleError(f"{good[0][0]}: bundle is for box {good[0][2].serial}, this box is {serial}")
    else:
        mine = good
    if len(mine) == 1:
        for problem in problems:
            logger.warning("ignored: %s", problem)
        return mine[0]
    if not mine:
        detail = "; ".join(problems) if problems else "none matches this box's serial " + str(serial)
        raise BundleError(f"no usable provisioning bundle: {detail}",
                          message_vi="Gói cấu hình trạm không hợp lệ (bị sửa đổi hoặc ký bằng khóa khác); liên hệ bộ phận CNTT.")
    raise FirstbootError(f"{len(mine)} bundles found ({', '.join(g[2].serial for g in mine)}) and this box's serial is "
                         "unknown; pass --serial or leave only this box's bundle")


class Firstboot:
    """One run of first boot over a state directory."""

    def __init__(self, options: FirstbootOptions, *, enroll_fn: EnrollFn | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.o = options
        self.enroll_fn = enroll_fn
        self.sleep = sleep
        self.work = options.state_dir / "firstboot"
        self.staged = self.work / "bundle.json"
        self.journal = Journal(self.work / "journal.json")
        self.report = FirstbootReport(station_id=self.journal.get("station_id", ""))
        self._payload: BundlePayload | None = None

    # -- steps ------------------------------------------------------------------------------
    def payload(self) -> BundlePayload:
        if self._payload is None:
            try:
                data = self.staged.read_bytes()
            except FileNotFoundError:
                raise FirstbootError(f"the staged bundle {self.staged} is gone although enrollment is not done; "
                                     "issue a new bundle for this box (motcua provision replace)") from None
            self._payload = verify_bundle(data, load_public_key(self.o.public_key), origin=str(self.staged))
        return self._payload

    def step_stage(self) -> dict[str, Any]:
        if self.staged.exists():
            # Killed after the copy, before the journal: the copy is whole (atomic) and verifies;
            # its source is the file in the search path with the same bytes.
            payload, data = self.payload(), self.staged.read_bytes()
            source = self.journal.get("source", "") or _same_file(self.o.search, data)
        else:
            path, data, payload = find_bundle(self.o.search, self.o.public_key, self.o.serial or machine_serial())
            source = str(path)
            self.work.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.o.state_dir, 0o700)
            write_atomic(self.staged, data, mode=0o600)
            self._payload = payload
        if payload.expires() < dt.datetime.now(dt.UTC):
            logger.warning("the enrollment token expired at %s by this box's clock (which may be wrong: no RTC); "
                           "the hub decides", payload.token_expires_at)
        return {"source": source, "station_id": payload.station_id, "serial": payload.serial,
                "hub_url": payload.sync["hub_url"], "bundle_sha256": hashlib.sha256(data).hexdigest()}

    def step_scrub_source(self) -> dict[str, Any]:
        source = self.journal.get("source")
        if source and Path(source) != self.staged:
            try:
                scrub(Path(source))
            except OSError as exc:  # a read-only stick: say so, go on (the token is single-use)
                logger.warning("could not remove the bundle from %s: %s", source, exc)
                return {"source_left": str(exc)}
        return {}

    def config_path(self) -> Path:
        return self.o.config_dir / "edge.toml"

    def step_config(self) -> dict[str, Any]:
        p = self.payload()
        cfg = self.o.config_dir
        cfg.mkdir(parents=True, exist_ok=True)
        anchors = p.anchors
        write_atomic(cfg / CITY_FILE, anchors.city_public_key.encode(), mode=0o644)
        write_atomic(cfg / RECEIPT_FILE, anchors.hub_receipt_key.encode(), mode=0o644)
        if anchors.ca_pem:
            write_atomic(cfg / CA_FILE, anchors.ca_pem.encode(), mode=0o644)
        path = self.config_path()
        current: dict[str, Any] = {}
        if path.exists():  # keep what IT put in the image (printer, office hours …)
            try:
                current = tomllib.loads(path.read_text())
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise FirstbootError(f"{path} is not valid TOML ({exc}); fix or remove it") from None
        current.setdefault("station", {}).update(p.station)
        current.setdefault("store", {})["state_dir"] = str(self.o.state_dir)
        sync = current.setdefault("sync", {})
        sync.update(p.sync)
        sync["ca_file"] = str(cfg / CA_FILE) if anchors.ca_pem else ""
        text = tomli_w.dumps(current)
        load_settings_from_text(text, path)  # refuse a config the daemon would refuse
        write_atomic(path, text.encode(), mode=0o644)
        return {"config": str(path)}

    def settings(self):
        return load_settings(self.config_path(), overrides={"store": {"state_dir": str(self.o.state_dir)}})

    def step_store(self) -> dict[str, Any]:
        from edge.store import Store

        settings = self.settings()
        root = self.o.state_dir
        if self.journal.get("store_started"):
            # A run died inside Store.init. No dossier can exist yet (the clerk app starts only
            # after this step), so the half-made store is removed and made again.
            for name in os.listdir(root):
                if name not in _STORE_ITEMS and not name.startswith(_STORE_DB):
                    continue
                target = root / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
        self.journal.note(store_started=True)
        _kill_hook("store", "during")
        result = Store.init(settings, agency_code=self.payload().station["agency_code"],
                            city_public_key=self.payload().anchors.city_public_key.encode())
        return {"city_key": result.city_key_fingerprint, "store_started": False}

    def step_station_key(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization

        from edge.store import Store

        with Store.open(self.settings(), passphrase=os.environ.get("MOTCUA_PASSPHRASE")) as store:
            key = store.station_signing_key()  # made on the box, kept wrapped by the station key
            raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"station_key_sha256": hashlib.sha256(raw).hexdigest()}

    def step_owner(self) -> dict[str, Any]:
        if not self.o.owner:
            return {}
        uid, gid = _user_ids(self.o.owner)
        for dirpath, dirnames, filenames in os.walk(self.o.state_dir):
            os.chown(dirpath, uid, gid)
            for name in (*dirnames, *filenames):
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)
        return {"owner": self.o.owner}

    def step_enroll(self) -> dict[str, Any]:
        from sync.client._backoff import Backoff

        p = self.payload()
        backoff = Backoff(base_seconds=self.o.backoff_base, cap_seconds=self.o.backoff_cap)
        attempt = 0
        while True:
            attempt += 1
            try:
                self._enroll_once(p)
                return {"enrolled_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
            except EnrollmentError as exc:
                self.journal.note(enroll_refused=str(exc))
                raise
            except Exception as exc:
                if not _transient(exc):
                    raise
                self.report.pending = f"hub {p.sync['hub_url']} not reachable: {exc}"
                status(f"enrollment pending (attempt {attempt}): {exc}")
                if self.o.max_attempts is not None and attempt >= self.o.max_attempts:
                    raise _Pending(self.report.pending) from None
                wait = backoff.delay(attempt)
                logger.warning("enrollment attempt %s failed (%s); retrying in %.0f s", attempt, exc, wait)
                self.sleep(wait)

    def _enroll_once(self, p: BundlePayload) -> None:
        from edge.store import Store

        enroll = self.enroll_fn or _client_enroll()
        settings = self.settings()
        ca = settings.sync.ca_file or None
        with Store.open(settings, passphrase=os.environ.get("MOTCUA_PASSPHRASE")) as store:
            try:
                result = enroll(store, p.sync["hub_url"], p.token, ca_file=ca, station_id=p.station_id)
                if inspect.isawaitable(result):
                    asyncio.run(_await(result))
                learned = (store.meta_get("sync.receipt_key") or "").strip()
                if learned and learned != p.anchors.hub_receipt_key.strip():
                    # The hub was reached over the CA pinned by the signed bundle, so it is the
                    # hub; it rotated its receipt key since the bundle was made. Say so loudly.
                    logger.warning("the hub's receipt key differs from the one in the bundle (hub key rotated "
                                   "since provisioning?); the hub's current key is used")
                    self.journal.note(receipt_key_changed=True)
            except Exception as exc:
                code = getattr(exc, "code", "")
                if code in _TOKEN_ERRORS:
                    raise EnrollmentError(f"the hub refused the enrollment token of station {p.station_id}: "
                                          f"{_TOKEN_ERRORS[code]} ({code}); issue a new bundle with: "
                                          f"motcua provision replace {p.serial} --station {p.station_id} …",
                                          message_vi=_TOKEN_ERRORS_VI.get(code)) from None
                raise

    def step_destroy_token(self) -> dict[str, Any]:
        scrub(self.staged)
        return {}

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> FirstbootReport:
        os.umask(0o077)
        if self.o.local:
            self.o.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            for step in STEPS[: STEPS.index("enroll")]:
                self._run(step)
            sd_notify("READY=1", "STATUS=local set-up done; intake works")
        elif not self.journal.done("owner"):
            raise FirstbootError(f"first boot's local steps are not done in {self.o.state_dir}; run: motcua firstboot --no-enroll")
        if not self.o.enroll:
            self.report.pending = "enrollment not attempted here (motcua-enroll.service does it)"
            return self.report
        self._drop_privileges()
        if self.journal.get("enroll_refused") and not self.journal.done("enroll"):
            self._restage_after_refusal()
        try:
            self._run("enroll")
        except _Pending as exc:
            self.report.pending = str(exc)
            return self.report
        self._run("destroy_token")
        self.report.enrolled = True
        write_atomic(self.o.state_dir / PROVISIONED, (self.report.station_id + "\n").encode(), mode=0o644)
        status("provisioned and enrolled")
        return self.report

    def _restage_after_refusal(self) -> None:
        """The hub refused the last token: take a new bundle for the same station, if IT gave one."""
        refused = self.journal.get("enroll_refused")
        try:
            path, data, payload = find_bundle(self.o.search, self.o.public_key, self.o.serial or machine_serial())
        except FirstbootError:
            raise FirstbootError(f"the hub refused this box's enrollment earlier ({refused}); put a new bundle for "
                                 f"station {self.report.station_id} (motcua provision replace) in /boot/firmware/motcua/ "
                                 "or on a USB stick and run first boot again") from None
        if payload.station_id != self.journal.get("station_id"):
            raise FirstbootError(f"{path} is for station {payload.station_id}, but this box was set up as "
                                 f"{self.journal.get('station_id')}; clear {self.o.state_dir} to set it up anew")
        write_atomic(self.staged, data, mode=0o600)
        self._payload = payload
        self.step_config()
        self.journal.note(enroll_refused="", source=str(path), serial=payload.serial,
                          hub_url=payload.sync["hub_url"])
        self.step_scrub_source()
        logger.info("new bundle for station %s taken from %s", payload.station_id, path)

    def _run(self, step: str) -> None:
        if self.journal.done(step):
            self.report.skipped.append(step)
            return
        _kill_hook(step, "before")
        status(f"first boot: {step}")
        facts = getattr(self, f"step_{step}")() or {}
        _kill_hook(step, "after")
        self.journal.mark(step, **facts)
        self.report.station_id = self.journal.get("station_id", "")
        self.report.done.append(step)
        logger.info("first boot step %s done", step)

    def _drop_privileges(self) -> None:
        if not self.o.owner or os.getuid() != 0:
            return
        uid, gid = _user_ids(self.o.owner)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


class _Pending(Exception):
    """Enrollment is still pending after the allowed attempts (the hub was not reachable)."""


_STORE_DB = "motcua.db"  # with its -wal / -shm companions
_STORE_ITEMS = ("keys", "blobs", "tmp", ".lock")

_TOKEN_ERRORS = {
    "token_used": "it was already used by another box",
    "token_expired": "it has expired",
    "token_invalid": "it is unknown to the hub or was issued for another station (was stations.jsonl imported?)",
    "station_revoked": "the station is revoked",
}
_TOKEN_ERRORS_VI = {
    "token_used": "Mã đăng ký đã được dùng cho một thiết bị khác; xin gói cấu hình mới từ bộ phận CNTT.",
    "token_expired": "Mã đăng ký đã hết hạn; xin gói cấu hình mới từ bộ phận CNTT.",
    "token_invalid": "Thành phố không nhận mã đăng ký này; liên hệ bộ phận CNTT.",
    "station_revoked": "Trạm đã bị thu hồi; liên hệ bộ phận CNTT.",
}


async def _await(result: Any) -> Any:
    return await result


def _transient(exc: BaseException) -> bool:
    try:
        from sync.client._errors import is_transient
    except ImportError:  # pragma: no cover - the sync client ships with the app
        return isinstance(exc, OSError | TimeoutError)
    return is_transient(exc) or isinstance(exc, OSError | TimeoutError)


def _client_enroll() -> EnrollFn:
    try:
        from sync.client import enroll
    except ImportError as exc:  # pragma: no cover - the sync client ships with the app
        raise FirstbootError(f"the sync client's enroll() is not available: {exc}") from None
    return enroll


def _user_ids(owner: str) -> tuple[int, int]:
    user, _, group = owner.partition(":")
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise FirstbootError(f"user {user!r} does not exist (sysusers.d/motcua.conf creates 'motcua')") from None
    gid = pw.pw_gid
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise FirstbootError(f"group {group!r} does not exist") from None
    return pw.pw_uid, gid


def load_settings_from_text(text: str, origin: Path) -> None:
    """Validate a config text with the daemon's own loader (unknown keys are errors)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", dir=origin.parent, delete=True) as fh:
        fh.write(text)
        fh.flush()
        load_settings(Path(fh.name), env={})


def run_firstboot(options: FirstbootOptions, *, enroll_fn: EnrollFn | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> FirstbootReport:
    return Firstboot(options, enroll_fn=enroll_fn, sleep=sleep).run()
