"""``motcua user add|list``: clerk accounts from the command line (registered by edge.cli)."""

from __future__ import annotations

import json
import sys

import click

from edge.context import CliContext, pass_ctx


@click.group("user")
def user_group() -> None:
    """Clerk accounts of this box (roles: clerk, supervisor, admin)."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["clerk", "supervisor", "admin"]), required=True)
@click.option("--name", "display_name", default=None, help="Display name (default: USERNAME).")
@click.option("--password-stdin", is_flag=True, help="Read the password (or PIN) from the first line of stdin.")
@pass_ctx
def user_add(ctx: CliContext, username: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Create an account; the password is stored only as an argon2id hash."""
    from . import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mật khẩu / PIN", hide_input=True, confirmation_prompt=True)
    with ctx.open_store() as store:
        account = accounts.create_account(store, username, display_name or username, role, password)
        store.audit("account.create", actor="cli", details={"username": account.username, "role": role})
    click.echo(f"created {account.username} ({account.role})")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def user_list(ctx: CliContext, as_json: bool) -> None:
    """List accounts (never their hashes)."""
    from . import accounts

    with ctx.open_store() as store:
        listed = accounts.list_accounts(store)
        locked = {a.username: accounts.locked_for(store, a.username) for a in listed}
    if as_json:
        click.echo(json.dumps([{**a.to_dict(), "locked_seconds": locked[a.username]} for a in listed],
                              ensure_ascii=False))
        return
    for a in listed:
        state = "disabled" if a.disabled else ("locked" if locked[a.username] else "active")
        click.echo(f"{a.username:20} {a.role:10} {state:8} {a.source:5} {a.display_name}")
