"""Fixtures shared by the whole suite: settings for a temporary box and an initialized store."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from edge.cli import install
from edge.config import Settings, load_settings
from edge.store import Store

# What the composition root does in the CLI and the daemon: every package registers its migration
# set, feed handlers and commands, so stores opened by the tests have the box's full schema.
install()

AGENCY = "000.00.06.H56"

# Fuzzing (Hypothesis): no example database in the repository, no wall-clock deadline on a shared
# 2-core machine. The default profile is derandomized, so a run of the suite is reproducible;
# HYPOTHESIS_PROFILE=deep explores: random seeds and ten times the examples.
settings.register_profile("ci", database=None, deadline=None, max_examples=150, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("deep", parent=settings.get_profile("ci"), max_examples=1500, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def make_settings(state_dir: Path, **sections: dict) -> Settings:
    overrides = {"store": {"state_dir": str(state_dir)}}
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(None, env={}, overrides=overrides)


@pytest.fixture
def box_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "box")


@pytest.fixture
def box_store(box_settings: Settings) -> Iterator[Store]:
    """An initialized, open store with a demo city key (private half beside the state dir)."""
    Store.init(box_settings, agency_code=AGENCY)
    store = Store.open(box_settings)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def city_private_key(box_store: Store):
    from edge.store import load_city_private_key

    path = box_store.root.parent / f"{box_store.root.name}-demo-city.key.json"
    return load_city_private_key(path.read_text())


@pytest.fixture
def sane_test_backend(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SANE with only the ``test`` backend enabled, in a private SANE_CONFIG_DIR (the system's
    dll.conf leaves it commented out)."""
    if shutil.which("scanimage") is None:
        pytest.skip("scanimage is not installed (Debian package sane-utils)")
    folder = tmp_path_factory.mktemp("sane.d")
    (folder / "dll.conf").write_text("test\n")
    system_conf = Path("/etc/sane.d/test.conf")
    if system_conf.exists():
        shutil.copy(system_conf, folder / "test.conf")
    else:
        (folder / "test.conf").write_text("number_of_devices 2\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(folder))
    return folder
