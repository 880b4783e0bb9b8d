"""Entry point: global options, error handling, and the commands the packages register.

The top-level group knows each command's name and one-line help from the registrations
(:mod:`edge.cli._packages`); a command's module is imported only when that command runs, so
``motcua --help`` and ``motcua status`` import only what they use.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from click.formatting import HelpFormatter

from edge._registry import Registry
from edge.errors import MotcuaError

from ._packages import install


class LazyGroup(click.Group):
    """A click group whose commands come from a :class:`~edge._registry.Registry`, loaded on use."""

    def __init__(self, *args, registry: Registry, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.registry = registry

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.registry.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is not None:
            return command
        spec = self.registry.commands.get(cmd_name)
        if spec is None:
            return None
        command = spec.load()
        if not isinstance(command, click.Command) or command.name != cmd_name:
            raise RuntimeError(f"{spec.package} registered command {cmd_name!r} but its loader returned {command!r}")
        self.add_command(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        # Like click's, but from the registered help: listing the commands imports none of them.
        rows = []
        limit = formatter.width - 6 - max((len(n) for n in self.list_commands(ctx)), default=0)
        for name in self.list_commands(ctx):
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
                continue
            spec = self.registry.commands[name]
            if not spec.hidden:
                rows.append((name, click.utils.make_default_short_help(spec.help, limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, registry=install(), context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), envvar="MOTCUA_CONFIG",
              help="Configuration file (default /etc/motcua/edge.toml, then STATE_DIR/edge.toml).")
@click.option("--state-dir", type=click.Path(path_type=Path), envvar="MOTCUA_STATE_DIR",
              help="State directory (overrides store.state_dir).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
@click.version_option(package_name="motcua")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, state_dir: Path | None, verbose: bool) -> None:
    """Trạm Một Cửa: the one-stop reception appliance."""
    from edge.context import CliContext

    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = CliContext(config_path=config_path, state_dir=state_dir)


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
