"""First boot over places others can write: the stick, the boot partition, the service user's state.

Discovery takes only regular files (a FIFO, a link to /dev/zero and a 3 GiB decoy beside the right
bundle are skipped and reported); scrub never follows a link; the owner step never chowns through
one; root's journal and marker stay in root's own directory, and a ``source`` outside the search
folders is never scrubbed. The as-root cases run the local steps as root with a real service user
(``useradd --system``) and then act as that user through ``setpriv``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from provisioning import FirstbootOptions, find_bundle, run_firstboot, sign_bundle
from provisioning._batch import StationPlan, _payload
from provisioning._errors import FirstbootError
from provisioning._files import read_regular, scrub
from provisioning._firstboot import Firstboot, _chown_tree

SERIAL = "PI1"
PLAN = StationPlan(serial=SERIAL, station_id="000.00.06.H56-S0000", station_name="Điểm Phúc Xá",
                   agency_code="000.00.06.H56", kind="commune", address="1 Lê Lợi", hub_url="http://127.0.0.1:9",
                   partition_index=0, partition_size=3333)


def bundle_bytes(prov_keys, serial: str = SERIAL) -> bytes:
    from dataclasses import replace

    now = dt.datetime.now(dt.UTC)
    payload = _payload(replace(PLAN, serial=serial), prov_keys, "A" * 32, now, now + dt.timedelta(days=7))
    return sign_bundle(payload, prov_keys.private_key)


@pytest.fixture
def pub(prov_keys) -> Path:
    return prov_keys.directory / "provisioning.pub"


def test_discovery_skips_fifo_devzero_link_and_huge_file(tmp_path: Path, prov_keys, pub: Path, caplog):
    stick = tmp_path / "stick" / "motcua"
    stick.mkdir(parents=True)
    os.mkfifo(stick / "a-fifo.motcua-bundle")                       # sorts first: would hang a blind read
    (stick / "b-zero.motcua-bundle").symlink_to("/dev/zero")
    with open(stick / "c-huge.motcua-bundle", "wb") as fh:          # sparse: 3 GiB, no disk used
        fh.truncate(3 << 30)
    (stick / f"{SERIAL}.motcua-bundle").write_bytes(bundle_bytes(prov_keys))
    found: list = []
    worker = threading.Thread(target=lambda: found.append(find_bundle([str(stick)], pub, SERIAL)), daemon=True)
    with caplog.at_level(logging.WARNING):
        worker.start()
        worker.join(20)
    assert not worker.is_alive(), "first boot hung on a FIFO"
    assert found and found[0][0] == stick / f"{SERIAL}.motcua-bundle"
    log = caplog.text
    assert "a-fifo.motcua-bundle is a FIFO" in log
    assert "b-zero.motcua-bundle is a symbolic link" in log
    assert "c-huge.motcua-bundle" in log and "too large" in log


def test_read_regular_refuses_links_and_reads_at_most_the_limit(tmp_path: Path):
    (tmp_path / "f").write_bytes(b"x" * 100)
    (tmp_path / "l").symlink_to(tmp_path / "f")
    assert read_regular(tmp_path / "f", 100) == b"x" * 100
    with pytest.raises(OSError, match="too large"):
        read_regular(tmp_path / "f", 99)
    with pytest.raises(OSError, match="symbolic link"):
        read_regular(tmp_path / "l", 1000)


def test_scrub_removes_a_link_never_its_target(tmp_path: Path):
    target = tmp_path / "staged-bundle.json"
    target.write_bytes(b"the real token")
    link = tmp_path / "x.motcua-bundle"
    link.symlink_to(target)
    assert scrub(link)
    assert not os.path.lexists(link)
    assert target.read_bytes() == b"the real token"
    plain = tmp_path / "y.motcua-bundle"
    plain.write_bytes(b"secret")
    assert scrub(plain) and not plain.exists()


def test_unknown_serial_takes_no_bundle(tmp_path: Path, prov_keys, pub: Path, monkeypatch):
    """No --serial, no device-tree serial: a lone validly signed bundle for another box is refused."""
    import provisioning._firstboot as fb

    monkeypatch.setattr(fb, "SERIAL_FILES", (str(tmp_path / "no-such-serial"),))  # the OS boundary
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "OTHER.motcua-bundle").write_bytes(bundle_bytes(prov_keys, "OTHER"))
    state, etc = tmp_path / "state", tmp_path / "etc"
    with pytest.raises(FirstbootError, match="serial is unknown") as info:
        run_firstboot(FirstbootOptions(state_dir=state, public_key=pub, config_dir=etc, search=(str(boot),), enroll=False))
    assert info.value.message_vi
    assert not etc.exists() and not list(state.iterdir())
    assert not (tmp_path / "state-firstboot" / "journal.json").exists()
    assert (boot / "OTHER.motcua-bundle").exists()


def test_source_outside_the_search_folders_is_never_scrubbed(tmp_path: Path, prov_keys, pub: Path):
    boot = tmp_path / "boot"
    boot.mkdir()
    precious = tmp_path / "etc" / "precious.motcua-bundle"
    precious.parent.mkdir()
    precious.write_bytes(b"keep me")
    fb = Firstboot(FirstbootOptions(state_dir=tmp_path / "state", public_key=pub, config_dir=tmp_path / "etc",
                                    search=(str(boot),)))
    for source in (str(precious), f"{boot}/../etc/precious.motcua-bundle", str(tmp_path / "etc" / "x.conf")):
        fb.journal.note(source=source)
        assert fb.step_scrub_source() == {"source_left": "outside the search folders"}
    assert precious.read_bytes() == b"keep me"


# -- as root, with a real service user -------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"),
                                reason="needs root, useradd and setpriv")


@pytest.fixture
def service_user():
    import pwd
    import uuid

    name = f"mtfb{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def scratch():
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="motcua-fb-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def as_user(pw, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                           sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")


@needs_root
def test_chown_tree_never_follows_a_link(scratch: Path, service_user):
    tree = scratch / "state"
    (tree / "sub").mkdir(parents=True)
    outside_file, outside_dir = scratch / "root-file", scratch / "root-dir"
    outside_file.write_text("root's")
    outside_dir.mkdir()
    (tree / "sub" / "f").write_text("x")
    (tree / "to-file").symlink_to(outside_file)
    (tree / "sub" / "to-dir").symlink_to(outside_dir)
    _chown_tree(tree, service_user.pw_uid, service_user.pw_gid)
    assert (tree / "sub" / "f").stat().st_uid == service_user.pw_uid
    assert os.lstat(tree / "to-file").st_uid == service_user.pw_uid
    assert outside_file.stat().st_uid == 0 and outside_dir.stat().st_uid == 0


@needs_root
def test_service_user_cannot_steer_root(scratch: Path, service_user, prov_keys, pub: Path):
    """After the local steps root's journal and marker are out of the service user's reach; what the
    user plants in its own state (a journal naming a root file as the source, links, a refusal
    hint, deleted markers) does not make the next root run delete or chown anything of root's."""
    boot, etc, state = scratch / "boot" / "motcua", scratch / "etc" / "motcua", scratch / "var" / "lib" / "motcua"
    boot.mkdir(parents=True)
    etc.mkdir(parents=True)
    state.parent.mkdir(parents=True)
    os.chmod(state.parent.parent, 0o755)
    os.chmod(state.parent, 0o755)
    shutil.copyfile(pub, etc / "provisioning.pub")
    (boot / f"{SERIAL}.motcua-bundle").write_bytes(bundle_bytes(prov_keys))
    options = FirstbootOptions(state_dir=state, public_key=etc / "provisioning.pub", config_dir=etc, search=(str(boot),),
                               serial=SERIAL, owner=service_user.pw_name, enroll=False)
    report = run_firstboot(options)
    assert "owner" in report.done
    root_dir = scratch / "var" / "lib" / "motcua-firstboot"
    assert root_dir.stat().st_uid == 0 and root_dir.stat().st_mode & 0o077 == 0
    assert (root_dir / "journal.json").stat().st_uid == 0
    assert not (root_dir / "bundle.json").exists(), "root keeps no copy of the token after the hand-over"
    staged = state / "firstboot" / "bundle.json"
    assert staged.stat().st_uid == service_user.pw_uid
    # The user cannot touch root's journal.
    done = as_user(service_user, f"open({str(root_dir / 'journal.json')!r}, 'w')")
    assert done.returncode != 0 and "PermissionError" in done.stderr
    # What the user can do in its own state dir.
    pub_file = etc / "provisioning.pub"
    plant = f"""
import json, os
s = {str(state)!r}
os.makedirs(s + '/firstboot', exist_ok=True)
json.dump({{"version": 1, "steps": {{}}, "source": {str(pub_file)!r}}}, open(s + '/firstboot/journal.json', 'w'))
json.dump({{"version": 1, "steps": {{}}, "local_done": True, "enroll_refused": "x"}}, open(s + '/firstboot/enroll.json', 'w'))
os.symlink({str(etc)!r}, s + '/etc-link')
os.symlink({str(pub_file)!r}, s + '/pub-link')
for m in ('.provisioned',):
    try: os.unlink(s + '/' + m)
    except FileNotFoundError: pass
"""
    done = as_user(service_user, plant)
    assert done.returncode == 0, done.stderr
    # Next boot as root: the journal it obeys is its own; a rerun of the owner step chowns no link target.
    journal = json.loads((root_dir / "journal.json").read_text())
    del journal["steps"]["owner"]
    (root_dir / "journal.json").write_text(json.dumps(journal))
    again = run_firstboot(options)
    assert "owner" in again.done and "scrub_source" in again.skipped
    assert pub_file.exists() and pub_file.stat().st_uid == 0 and etc.stat().st_uid == 0
    assert os.lstat(state / "pub-link").st_uid == service_user.pw_uid


@needs_root
def test_refusal_hint_with_old_bundle_changes_nothing(scratch: Path, service_user, prov_keys, pub: Path):
    """The user's "the hub refused" hint makes root look for a NEW verified bundle only; none: nothing changes."""
    boot, etc, state = scratch / "boot", scratch / "etc", scratch / "state"
    boot.mkdir()
    (boot / f"{SERIAL}.motcua-bundle").write_bytes(bundle_bytes(prov_keys))
    options = FirstbootOptions(state_dir=state, public_key=pub, config_dir=etc, search=(str(boot),), serial=SERIAL,
                               owner=service_user.pw_name, enroll=False)
    run_firstboot(options)
    config = (etc / "edge.toml").read_bytes()
    hint = json.dumps({"version": 1, "steps": {}, "local_done": True, "enroll_refused": "token_used"})
    done = as_user(service_user, f"open({str(state / 'firstboot' / 'enroll.json')!r}, 'w').write({hint!r})")
    assert done.returncode == 0, done.stderr
    report = run_firstboot(options)
    assert "restage" not in report.done and "new bundle" in report.pending
    assert (etc / "edge.toml").read_bytes() == config
