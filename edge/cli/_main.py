"""Entry point: global options, error handling, and the list of subcommand modules."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import click

from edge.errors import MotcuaError

from ._context import CliContext

# Each module exports COMMANDS: a list of click commands or groups added at the top level.
COMMAND_MODULES = (
    "edge.cli._core",
    "edge.web.cli",
    "edge.reception.cli",
    "edge.devices.cli",
    "edge.devices.cccd.cli",
    "sync.cli",
    "sync.hub.cli",
    "provisioning.cli",
    "bench.cli",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), envvar="MOTCUA_CONFIG",
              help="Configuration file (default /etc/motcua/edge.toml, then STATE_DIR/edge.toml).")
@click.option("--state-dir", type=click.Path(path_type=Path), envvar="MOTCUA_STATE_DIR",
              help="State directory (overrides store.state_dir).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
@click.version_option(package_name="motcua")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, state_dir: Path | None, verbose: bool) -> None:
    """Trạm Một Cửa: the one-stop reception appliance."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = CliContext(config_path=config_path, state_dir=state_dir)


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(_name).COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="motcua", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MotcuaError as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.message_vi:
            click.echo(f"lỗi: {exc.message_vi}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
