"""What a stolen box's file system gives away: modes under any umask, and a tampered passphrase file."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from edge.errors import IntegrityError, StoreLockedError
from edge.store import Store
from tests.conftest import AGENCY, make_settings

PUBLIC_FILES = {"keys/city.pub.json"}  # the city's public key: nothing secret in it
PASSPHRASE = "mot-cau-mat-khau-dai"


@pytest.fixture
def umask():
    """umask(value) for the rest of the test; the process's own umask comes back at teardown."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_nothing_under_the_state_dir_is_open_to_others(tmp_path, umask, mask):
    umask(mask)
    settings = make_settings(tmp_path / "box")
    result = Store.init(settings, agency_code=AGENCY)
    with Store.open(settings) as store:
        dossier_id = store.create_draft(procedure_code="1.004222", actor="clerk",
                                        applicant={"full_name": "Lê Văn Tám", "id_number": "001190012345"})
        store.add_page(dossier_id, b"%PDF-1.4\n" + os.urandom(1000), component="CT01",
                       media_type="application/pdf", actor="clerk")
        modes = _modes(store.root)
        # The WAL and shared-memory files exist while the store is open.
        assert {"motcua.db", "motcua.db-wal", "motcua.db-shm", "keys/station.kek"} <= set(modes)
    exposed = {name: oct(mode) for name, mode in modes.items() if mode & 0o077 and name not in PUBLIC_FILES}
    assert exposed == {}
    assert modes["."] == 0o700
    assert stat.S_IMODE(result.demo_city_private_key.stat().st_mode) == 0o600


def test_reopening_narrows_a_database_left_world_readable(tmp_path, umask):
    umask(0o022)
    settings = make_settings(tmp_path / "box")
    Store.init(settings, agency_code=AGENCY)
    db = tmp_path / "box" / "motcua.db"
    os.chmod(db, 0o644)  # e.g. restored from a backup by hand
    with Store.open(settings):
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "box" / "motcua.db-wal").stat().st_mode) == 0o600


@pytest.fixture
def passphrase_box(tmp_path):
    settings = make_settings(tmp_path / "box", store={"key_provider": "passphrase"})
    Store.init(settings, agency_code=AGENCY, passphrase=PASSPHRASE)
    return settings, tmp_path / "box" / "keys" / "passphrase.json"


@pytest.mark.parametrize("change", [
    {"n": 2**30},            # 128 GiB of scrypt memory: the box would hang or be killed
    {"n": 2**15, "r": 4096},
    {"p": 2**20},            # hours of CPU
    {"n": 2**15 + 1},        # not a power of two
    {"n": 2},                # far weaker than what init writes
    {"n": "32768"},
    {"kdf": "pbkdf2"},
    {"salt": base64.b64encode(b"short").decode()},
])
def test_tampered_kdf_parameters_are_refused_before_any_work(passphrase_box, change):
    settings, path = passphrase_box
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, **change}))
    with pytest.raises(IntegrityError, match="tampered"):
        Store.open(settings, passphrase=PASSPHRASE)


def test_stored_kdf_parameters_are_the_ones_used(passphrase_box):
    settings, path = passphrase_box
    doc = json.loads(path.read_text())
    assert (doc["kdf"], doc["n"], doc["r"], doc["p"]) == ("scrypt", 2**15, 8, 1)
    with pytest.raises(StoreLockedError):
        Store.open(settings, passphrase="not-the-passphrase")
    with Store.open(settings, passphrase=PASSPHRASE) as store:
        assert store.count() == 0
