"""The core imports nothing of the box, the hub or provisioning (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Import the module in a fresh interpreter and every public name of it (a package's __init__
# may load its names on first use), then list every module loaded.
PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
for name in getattr(module, "__all__", ()):
    getattr(module, name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(module: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, module], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _of(modules: list[str], *packages: str) -> list[str]:
    return [m for m in modules if m.split(".")[0] in packages]


@pytest.mark.parametrize("module", ["core", "core.errors", "core.fsutil", "core.sealed", "core.manifest",
                                    "core.codes", "core.vntime"])
def test_core_loads_nothing_of_the_other_packages(module: str) -> None:
    assert _of(_loaded(module), "edge", "sync", "provisioning") == []
