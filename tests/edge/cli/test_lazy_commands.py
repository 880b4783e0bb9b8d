"""`motcua` imports only what the command it runs needs; every registered command loads."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from edge._registry import RegistrationError, Registry
from edge.cli import PACKAGES, cli

HEAVY = ("aiohttp", "jinja2", "reportlab", "apscheduler", "edge.web._app", "edge.web.accounts",
         "edge.reception._receipt", "edge.reception._draw", "sync.client._client", "sync.hub._app", "provisioning._bundle",
         "edge.devices._registry", "edge.cli._core")

PROBE = """
import json, sys
sys.argv = ["motcua", *json.loads(sys.argv[1])]
try:
    from edge.cli import main
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _imported(args: list[str], env: dict | None = None) -> tuple[int, set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                          timeout=120, env=env)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def test_help_imports_no_command_module() -> None:
    code, modules = _imported(["--help"])
    assert code == 0
    assert [m for m in HEAVY if m in modules] == []
    assert "edge.store" not in modules and "sqlite_utils" not in modules


def test_status_imports_the_store_but_not_the_web_or_the_sync_client(tmp_path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env["MOTCUA_STATE_DIR"] = str(tmp_path / "box")
    init = subprocess.run([sys.executable, "-m", "edge.cli", "init", "--agency", "000.00.06.H56"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    code, modules = _imported(["status", "--json"], env)
    assert code == 0
    assert "edge.store" in modules and "edge.cli._core" in modules
    assert [m for m in HEAVY if m in modules and m != "edge.cli._core"] == []


def test_every_registered_command_loads_under_its_name() -> None:
    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    assert {"init", "status", "dossier", "user", "catalog", "calendar", "fee", "devices", "scan", "cccd",
            "sync", "hub", "provision", "firstboot", "bench"} <= set(names)
    for name in names:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
        assert command.get_short_help_str(300) == cli.registry.commands[name].help, name


def test_each_package_registers_through_one_hook() -> None:
    registry = Registry()
    for module in PACKAGES:
        registry.install(module.__name__.removesuffix("._extension"), module.register)
    registry.install("edge.web", lambda r: pytest.fail("a package's hook runs once"))
    assert [m.name for m in registry.migrations] == ["outbox", "web", "reception", "sync", "transfer"]
    assert set(registry.feed_handlers) == {"procedure_catalog", "calendar_override", "clerk_account", "admin_units"}
    with pytest.raises(RegistrationError, match="'status'"):
        registry.install("another", lambda r: r.add_command("status", lambda: None, help=""))
