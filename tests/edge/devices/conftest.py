"""Fixtures for the device tests: SANE's test backend in a private config, a draft dossier."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

TEST_CONF = Path("/etc/sane.d/test.conf")


@pytest.fixture
def sane_test_backend(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> Path:
    """SANE with only the ``test`` backend enabled (it is commented out in the system dll.conf)."""
    if shutil.which("scanimage") is None:
        pytest.skip("scanimage is not installed (Debian package sane-utils)")
    folder = tmp_path_factory.mktemp("sane.d")
    (folder / "dll.conf").write_text("test\n")
    if TEST_CONF.exists():
        shutil.copy(TEST_CONF, folder / "test.conf")
    else:
        (folder / "test.conf").write_text("number_of_devices 2\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def draft(box_store) -> str:
    return box_store.create_draft(
        procedure_code="1.001612",
        applicant={"full_name": "Trần Thị Bình", "id_number": "001190012345"},
        actor="clerk1")


@pytest.fixture
def umockdev_run() -> str:
    path = shutil.which("umockdev-run")
    if path is None:
        pytest.skip("umockdev-run is not installed (Debian package umockdev)")
    return path
