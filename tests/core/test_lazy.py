"""core.lazy: package names that load on first use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def test_a_name_loads_on_first_use_and_unknown_names_are_attribute_errors(tmp_path):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        from core.lazy import lazy_exports
        _LAZY = {"heavy_value": ("._heavy", "VALUE"), "heavy": ("._heavy", None)}
        __getattr__, __dir__ = lazy_exports(__name__, _LAZY)
    '''))
    (pkg / "_heavy.py").write_text("VALUE = 42\n")
    code = textwrap.dedent('''
        import sys
        import lazypkg
        assert "lazypkg._heavy" not in sys.modules
        assert "heavy_value" in dir(lazypkg)
        assert lazypkg.heavy_value == 42 and "lazypkg._heavy" in sys.modules
        assert vars(lazypkg)["heavy_value"] == 42   # cached on the module
        assert lazypkg.heavy.VALUE == 42
        try:
            lazypkg.missing
        except AttributeError as exc:
            assert "lazypkg" in str(exc) and "missing" in str(exc)
        else:
            raise SystemExit("no AttributeError")
    ''')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("package", ["edge.web", "edge.reception", "sync.client", "sync.hub", "provisioning"])
def test_every_lazy_name_of_a_package_resolves(package):
    import importlib

    module = importlib.import_module(package)
    for name in module._LAZY:
        assert getattr(module, name) is not None, name
