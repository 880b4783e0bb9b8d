"""``motcua firstboot``: from a bundle on the boot partition or a USB stick to an enrolled box.

Each step is idempotent and recorded once it is done (written atomically), so a power cut at any
point leaves a state the next run finishes. What root trusts lives where only root may write:
``ROOT_DIR`` (``/var/lib/motcua-firstboot``, 0700 root, next to the state dir) holds the journal of
the local steps and the ``provisioned`` marker. The service user's side lives in its state dir:
``STATE_DIR/firstboot/bundle.json`` (the staged bundle with the token) and ``enroll.json`` (its own
record of enrollment). Root reads nothing of the service user's but a hint that the hub refused
the token, and acts on it only with a new, verified bundle from the search roots.

1. ``stage``         find the bundle, verify its signature, copy it into the state dir (0600)
2. ``scrub_source``  remove the bundle (and its token) from the boot partition / USB stick
3. ``config``        write ``edge.toml`` and the trust anchors into the config dir
4. ``store``         initialise the encrypted store with the city key from the bundle
5. ``station_key``   generate the station's Ed25519 identity on the box
6. ``owner``         hand the staged bundle and the state dir to the service user (no link followed)
   — local set-up ends here (``motcua-firstboot.service``, root, no network): the clerk app starts
   and intake works without the network —
7. ``enroll``        enroll with the hub, retrying with backoff until it answers
                     (``motcua-enroll.service``, as the service user)
8. ``destroy_token`` scrub the staged bundle copy (the token is spent), then mark ``.provisioned``

After a refused token the root-run local unit takes a new bundle for the same station from the
search roots (``_restage_after_refusal``: it writes ``/etc/motcua`` and hands the new bundle to
the service user), and the enrollment unit tries again with it.
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
import stat as _stat
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from edge.config import load_settings

from ._bundle import MAX_BUNDLE_BYTES, SUFFIX, BundlePayload, verify_bundle
from ._errors import BundleError, EnrollmentError, FirstbootError
from ._files import read_regular, scrub, write_atomic, write_in_dir
from ._keys import load_public_key
from ._notify import sd_notify, status

logger = logging.getLogger(__name__)

STEPS = ("stage", "scrub_source", "config", "store", "station_key", "owner", "enroll", "destroy_token")
DEFAULT_SEARCH = ("/boot/firmware/motcua", "/boot/motcua", "/media/*/motcua", "/media/*/*/motcua",
                  "/run/media/*/*/motcua", "/mnt/*/motcua")
DEFAULT_PUBLIC_KEY = Path("/etc/motcua/provisioning.pub")
DEFAULT_CONFIG_DIR = Path("/etc/motcua")
PROVISIONED = ".provisioned"          # in the state dir: the enrollment unit's condition
ROOT_PROVISIONED = "provisioned"      # in the root dir: the first-boot unit's condition
SERIAL_ENV = "MOTCUA_SERIAL"
_JOURNAL_MAX = 1 << 20
SERIAL_FILES = ("/sys/firmware/devicetree/base/serial-number", "/proc/device-tree/serial-number")
KILL_ENV = "MOTCUA_FIRSTBOOT_KILL_AT"  # test hook: "<step>" (after its work), "<step>:before", "store:during"
CA_FILE, RECEIPT_FILE, CITY_FILE = "hub-ca.pem", "hub-receipt.pub", "city.pub"

EnrollFn = Callable[..., Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstbootOptions:
    state_dir: Path
    root_dir: Path | None = None        # root's journal; default STATE_DIR's sibling "<name>-firstboot"
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

    @property
    def journal_dir(self) -> Path:
        return self.root_dir or self.state_dir.parent / f"{self.state_dir.name}-firstboot"


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
            self.data: dict[str, Any] = json.loads(read_regular(path, _JOURNAL_MAX))
        except FileNotFoundError:
            self.data = {"version": 1, "steps": {}}
        except (OSError, ValueError) as exc:  # written atomically, so this is damage, not a torn write
            raise FirstbootError(f"first-boot journal {path} is damaged ({exc}); remove it to start over") from None
        if not isinstance(self.data, dict) or not isinstance(self.data.get("steps"), dict):
            raise FirstbootError(f"first-boot journal {path} is damaged (not a journal); remove it to start over")

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


def _candidates(search: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for pattern in search:
        for directory in sorted(glob.glob(pattern)):
            out.extend(sorted(Path(directory).glob(f"*{SUFFIX}")))
    return out


def _same_file(search: Sequence[str], data: bytes) -> str:
    for path in _candidates(search):
        with contextlib.suppress(OSError):
            if read_regular(path, MAX_BUNDLE_BYTES) == data:
                return str(path)
    return ""


def in_search(path: str, search: Sequence[str]) -> bool:
    """Whether ``path`` names a bundle directly inside one of the search folders (nothing else)."""
    if not path or not path.endswith(SUFFIX) or "\0" in path:
        return False
    candidate = Path(os.path.normpath(path))
    if candidate != Path(path) or not candidate.is_absolute():
        return False
    folders = {Path(os.path.normpath(os.path.abspath(d))) for pattern in search for d in glob.glob(pattern)}
    return candidate.parent in folders


def machine_serial() -> str | None:
    for name in SERIAL_FILES:
        with contextlib.suppress(OSError):
            text = Path(name).read_bytes().rstrip(b"\0").decode(errors="replace").strip()
            if text:
                return text
    return None


def find_bundle(search: Sequence[str], public_key_path: Path, serial: str | None) -> tuple[Path, bytes, BundlePayload]:
    """The one bundle meant for this box: regular file, signature verified, signed serial = ``serial``.

    Every candidate is looked at by name (``lstat``) and read through ``O_NOFOLLOW|O_NONBLOCK`` up
    to the bundle limit: a symlink, FIFO, device or oversized file is skipped and reported, and the
    search goes on. Without a known serial nothing is taken: a stick may hold other boxes' bundles.
    """
    if not serial:
        raise FirstbootError("this box's serial is unknown (no device-tree serial number): a bundle cannot be matched "
                             f"to it; give it with --serial or {SERIAL_ENV}=… (docs/deploy.md)",
                             message_vi="Không xác định được số sê-ri của thiết bị; liên hệ bộ phận CNTT.")
    key = load_public_key(public_key_path)
    candidates = _candidates(search)
    if not candidates:
        raise FirstbootError("no provisioning bundle found (looked for *" + SUFFIX + " in " + ", ".join(search)
                             + "); copy this box's bundle to /boot/firmware/motcua/ or a USB stick folder motcua/",
                             message_vi="Không tìm thấy gói cấu hình trạm; liên hệ bộ phận CNTT.")
    good: list[tuple[Path, bytes, BundlePayload]] = []
    problems: list[str] = []
    for path in candidates:
        try:
            data = read_regular(path, MAX_BUNDLE_BYTES)
            good.append((path, data, verify_bundle(data, key, origin=str(path))))
        except BundleError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}" if not str(exc).startswith(str(path)) else str(exc))
    mine = [g for g in good if g[2].serial.lower() == serial.lower()]
    if not mine and len(good) == 1 and len(candidates) == 1:
        raise BundleError(f"{good[0][0]}: bundle is for box {good[0][2].serial}, this box is {serial}")
    if len(mine) == 1:
        for problem in problems:
            logger.warning("ignored: %s", problem)
        return mine[0]
    if not mine:
        detail = "; ".join(problems) if problems else "none matches this box's serial " + str(serial)
        raise BundleError(f"no usable provisioning bundle: {detail}",
                          message_vi="Gói cấu hình trạm không hợp lệ (bị sửa đổi hoặc ký bằng khóa khác); liên hệ bộ phận CNTT.")
    raise FirstbootError(f"{len(mine)} bundles for serial {serial} found ({', '.join(str(g[0]) for g in mine)}); "
                         "leave only one")


class Firstboot:
    """One run of first boot over a state directory."""

    def __init__(self, options: FirstbootOptions, *, enroll_fn: EnrollFn | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.o = options
        self.enroll_fn = enroll_fn
        self.sleep = sleep
        self.root_dir = options.journal_dir            # root's: journal, provisioned marker
        self.root_staged = self.root_dir / "bundle.json"
        self.work = options.state_dir / "firstboot"    # the service user's: staged bundle, enroll record
        self.staged = self.work / "bundle.json"
        self._journal: Journal | None = None
        self._enroll_journal: Journal | None = None
        self.report = FirstbootReport(station_id="")
        self._payload: BundlePayload | None = None
        self._dropped = False     # the enrollment part: the service user's files are used
        self._switched = False    # the process became the service user

    @property
    def journal(self) -> Journal:
        """Root's journal of the local steps (read only by the root-run part)."""
        if self._journal is None:
            self._journal = Journal(self.root_dir / "journal.json")
        return self._journal

    @property
    def enroll_journal(self) -> Journal:
        """The service user's record of enrollment."""
        if self._enroll_journal is None:
            self._enroll_journal = Journal(self.work / "enroll.json")
        return self._enroll_journal

    def _journal_for(self, step: str) -> Journal:
        return self.enroll_journal if step in _USER_STEPS else self.journal

    # -- steps ------------------------------------------------------------------------------
    def payload(self) -> BundlePayload:
        if self._payload is None:
            path = self.staged if self._dropped or not self.o.local else self.root_staged
            try:
                data = read_regular(path, MAX_BUNDLE_BYTES)
            except FileNotFoundError:
                raise FirstbootError(f"the staged bundle {path} is gone although enrollment is not done; "
                                     "issue a new bundle for this box (motcua provision replace)") from None
            except OSError as exc:
                raise FirstbootError(f"the staged bundle {path} cannot be read: {exc}") from None
            self._payload = verify_bundle(data, load_public_key(self.o.public_key), origin=str(path))
        return self._payload

    def step_stage(self) -> dict[str, Any]:
        if self.root_staged.exists():
            # Killed after the copy, before the journal: the copy is whole (atomic) and verifies;
            # its source is the file in the search path with the same bytes.
            payload, data = self.payload(), read_regular(self.root_staged, MAX_BUNDLE_BYTES)
            source = self.journal.get("source", "") or _same_file(self.o.search, data)
        else:
            path, data, payload = find_bundle(self.o.search, self.o.public_key, self.serial())
            source = str(path)
            write_atomic(self.root_staged, data, mode=0o600)
            self._payload = payload
        if payload.expires() < dt.datetime.now(dt.UTC):
            logger.warning("the enrollment token expired at %s by this box's clock (which may be wrong: no RTC); "
                           "the hub decides", payload.token_expires_at)
        return {"source": source, "station_id": payload.station_id, "serial": payload.serial,
                "hub_url": payload.sync["hub_url"], "bundle_sha256": hashlib.sha256(data).hexdigest()}

    def serial(self) -> str | None:
        return self.o.serial or machine_serial()

    def step_scrub_source(self) -> dict[str, Any]:
        source = self.journal.get("source")
        if not source:
            return {}
        if not in_search(source, self.o.search):
            logger.warning("not removing %r: not a bundle inside the search folders", source)
            return {"source_left": "outside the search folders"}
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
                            city_public_key=self.payload().anchors.city_public_key.encode(),
                            hub_receipt_key=self.payload().anchors.hub_receipt_key)
        return {"city_key": result.city_key_fingerprint, "store_started": False}

    def step_station_key(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives import serialization

        from edge.store import Store

        with Store.open(self.settings(), passphrase=os.environ.get("MOTCUA_PASSPHRASE")) as store:
            key = store.station_signing_key()  # made on the box, kept wrapped by the station key
            raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"station_key_sha256": hashlib.sha256(raw).hexdigest()}

    def step_owner(self) -> dict[str, Any]:
        """Give the staged bundle and the state dir to the service user; root keeps only its journal."""
        ids = _user_ids(self.o.owner) if self.o.owner else None
        _make_dir(self.work)
        if self.root_staged.exists() or not self.staged.exists():
            # (a rerun after a kill between the hand-over and the journal finds only the user's copy)
            data = read_regular(self.root_staged, MAX_BUNDLE_BYTES)
            write_in_dir(self.work, "bundle.json", data, owner=ids)
        record = {"version": 1, "steps": {}, "local_done": True, "station_id": self.journal.get("station_id"),
                  "hub_url": self.journal.get("hub_url")}
        write_in_dir(self.work, "enroll.json", json.dumps(record, indent=1, sort_keys=True).encode(), owner=ids)
        if ids is not None:
            _chown_tree(self.o.state_dir, *ids)
        scrub(self.root_staged)
        return {"owner": self.o.owner or ""}

    def step_enroll(self) -> dict[str, Any]:
        from sync.client._backoff import Backoff

        p = self.payload()
        backoff = Backoff(base_seconds=self.o.backoff_base, cap_seconds=self.o.backoff_cap)
        attempt = 0
        while True:
            attempt += 1
            try:
                self._enroll_once(p)
                return {"enrolled_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "enroll_refused": "",
                        "refused_sha256": ""}
            except EnrollmentError as exc:
                self.enroll_journal.note(enroll_refused=str(exc), refused_sha256=self._staged_sha())
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

    def _staged_sha(self) -> str:
        try:
            return hashlib.sha256(read_regular(self.staged, MAX_BUNDLE_BYTES)).hexdigest()
        except OSError:
            return ""

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
                # An answer whose city or receipt key differs from the bundle's anchors is refused
                # by the enrollment itself (AnchorMismatchError, nothing changed, not retried).
            except Exception as exc:
                code = getattr(exc, "code", "")
                if code in _TOKEN_ERRORS:
                    raise EnrollmentError(f"the hub refused the enrollment token of station {p.station_id}: "
                                          f"{_TOKEN_ERRORS[code]} ({code}); issue a new bundle with: "
                                          f"motcua provision replace {p.serial} --station {p.station_id} …, "
                                          f"then {_RECOVERY}",
                                          message_vi=_TOKEN_ERRORS_VI.get(code)) from None
                raise

    def step_destroy_token(self) -> dict[str, Any]:
        scrub(self.staged)
        return {}

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> FirstbootReport:
        previous = os.umask(0o077)
        try:
            return self._run_all()
        finally:
            os.umask(previous)

    def _run_all(self) -> FirstbootReport:
        if self.o.local:
            self._check_root_dir()
            self.o.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            for step in STEPS[: STEPS.index("enroll")]:
                self._run(step)
            self.report.station_id = self.journal.get("station_id", "")
            if self._user_hint().get("enroll_refused"):
                self._restage_after_refusal()
            if (self.o.state_dir / PROVISIONED).exists():
                self._mark_provisioned()
            sd_notify("READY=1", "STATUS=local set-up done; intake works")
        if not self.o.enroll:
            self.report.pending = self.report.pending or "enrollment not attempted here (motcua-enroll.service does it)"
            return self.report
        self._drop_privileges()
        if not self.enroll_journal.get("local_done"):
            raise FirstbootError(f"first boot's local steps are not done in {self.o.state_dir}; run: motcua firstboot --no-enroll")
        self.report.station_id = self.enroll_journal.get("station_id", "") or self.report.station_id
        refused = self.enroll_journal.get("enroll_refused")
        if refused and not self.enroll_journal.done("enroll") and self.enroll_journal.get("refused_sha256") == self._staged_sha():
            raise EnrollmentError(f"the hub refused this box's enrollment earlier ({refused}); no new bundle was given "
                                  f"since: put a new bundle for station {self.report.station_id} (motcua provision "
                                  f"replace) in /boot/firmware/motcua/ or in a folder motcua/ on a USB stick, then "
                                  f"{_RECOVERY}",
                                  message_vi="Thành phố đã từ chối mã đăng ký; cần gói cấu hình mới từ bộ phận CNTT.")
        try:
            self._run("enroll")
        except _Pending as exc:
            self.report.pending = str(exc)
            return self.report
        self._run("destroy_token")
        self.report.enrolled = True
        write_atomic(self.o.state_dir / PROVISIONED, (self.report.station_id + "\n").encode(), mode=0o644)
        if self.o.local and not self._switched:  # still the process that may write root's dir
            self._mark_provisioned()
        status("provisioned and enrolled")
        return self.report

    def _check_root_dir(self) -> None:
        """Root's directory: made 0700 here; as root it must be a real directory of root's, closed to others."""
        self.root_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(self.root_dir)
        if os.getuid() == 0 and (not _stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022):
            raise FirstbootError(f"{self.root_dir} must be a directory owned by root and writable only by root; "
                                 "it holds the first-boot journal")

    def _mark_provisioned(self) -> None:
        write_atomic(self.root_dir / ROOT_PROVISIONED, (self.journal.get("station_id", "") + "\n").encode(), mode=0o644)

    def _user_hint(self) -> dict[str, Any]:
        """The service user's enrollment record, read as an untrusted hint (never followed, bounded)."""
        try:
            data = json.loads(read_regular(self.work / "enroll.json", _JOURNAL_MAX))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("ignored the enrollment record %s: %s", self.work / "enroll.json", exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _restage_after_refusal(self) -> None:
        """The hub refused the last token: take a new bundle for the same station, if IT gave one (as root)."""
        hint = self._user_hint()
        try:
            path, data, payload = find_bundle(self.o.search, self.o.public_key, self.serial())
        except FirstbootError as exc:
            logger.warning("the hub refused this box's enrollment earlier; no new bundle yet (%s)", exc)
            self.report.pending = (f"the hub refused the enrollment token; put a new bundle for station "
                                   f"{self.report.station_id} on a USB stick (folder motcua/) or in /boot/firmware/motcua/")
            return
        sha = hashlib.sha256(data).hexdigest()
        if sha == hint.get("refused_sha256"):
            logger.warning("%s is the bundle the hub already refused; a new one is needed", path)
            return
        if payload.station_id != self.journal.get("station_id"):
            raise FirstbootError(f"{path} is for station {payload.station_id}, but this box was set up as "
                                 f"{self.journal.get('station_id')}; clear {self.o.state_dir} and {self.root_dir} "
                                 "to set it up anew")
        self._payload = payload
        self.step_config()
        ids = _user_ids(self.o.owner) if self.o.owner else None
        _make_dir(self.work, owner=ids)
        write_in_dir(self.work, "bundle.json", data, owner=ids)
        self.journal.note(source=str(path), serial=payload.serial, hub_url=payload.sync["hub_url"], bundle_sha256=sha)
        self.step_scrub_source()
        self.report.done.append("restage")
        logger.info("new bundle for station %s taken from %s", payload.station_id, path)

    def _run(self, step: str) -> None:
        journal = self._journal_for(step)
        if journal.done(step):
            self.report.skipped.append(step)
            return
        _kill_hook(step, "before")
        status(f"first boot: {step}")
        facts = getattr(self, f"step_{step}")() or {}
        _kill_hook(step, "after")
        journal.mark(step, **facts)
        self.report.station_id = journal.get("station_id", "") or self.report.station_id
        self.report.done.append(step)
        logger.info("first boot step %s done", step)

    def _drop_privileges(self) -> None:
        self._payload = None  # the service user reads its own staged copy
        if not self.o.owner or os.getuid() != 0:
            self._dropped = True
            return
        uid, gid = _user_ids(self.o.owner)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        self._dropped = self._switched = True


class _Pending(Exception):
    """Enrollment is still pending after the allowed attempts (the hub was not reachable)."""


_USER_STEPS = ("enroll", "destroy_token")
_RECOVERY = "reboot the box (or: systemctl restart motcua-firstboot motcua-enroll)"
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


def _make_dir(path: Path, *, owner: tuple[int, int] | None = None) -> None:
    """A real directory at ``path`` (a symlink there is refused, not followed)."""
    try:
        os.mkdir(path, 0o700)
        if owner is not None:
            os.chown(path, *owner, follow_symlinks=False)
    except FileExistsError:
        if not _stat.S_ISDIR(os.lstat(path).st_mode):
            raise FirstbootError(f"{path} is not a directory (a link or a file is in its place); remove it") from None


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """chown ``top`` and everything below it, by directory fd: no link is ever followed."""
    if not _stat.S_ISDIR(os.lstat(top).st_mode):
        raise FirstbootError(f"{top} is not a directory (a link or a file is in its place)")
    for _dirpath, dirnames, filenames, dirfd in os.fwalk(top, follow_symlinks=False):
        os.chown(dirfd, uid, gid)
        for name in (*dirnames, *filenames):  # a link among them is chowned itself, never its target
            os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)


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
