"""Fixtures for the device tests: SANE's test backend in a private config, a draft dossier."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))



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
