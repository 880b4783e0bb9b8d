"""The city hub imports nothing of the box: importing it (and each of its public names) in a
fresh interpreter loads no ``edge`` module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
for name in getattr(module, "__all__", ()):
    getattr(module, name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("module", ["sync.hub", "sync.hub.cli", "sync.hub._open", "sync.hub.storage",
                                    "sync.hub.storage.sqlite", "sync.protocol", "sync.errors"])
def test_the_hub_loads_no_module_of_the_box(module: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, module], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    assert module in loaded  # the probe did import it
    assert [m for m in loaded if m == "edge" or m.startswith("edge.")] == []
