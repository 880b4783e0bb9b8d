"""`motcua hub admin …` (IT's accounts for the fleet page) and `motcua hub metrics-token`."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click

from .cli import _now, _open, data_dir_option
from .fleet._auth import FleetAuthError, check_username, hash_password


@click.group("admin")
def admin() -> None:
    """Accounts of IT for the fleet page (/fleet/ on the hub)."""


@admin.command("add")
@data_dir_option
@click.argument("username")
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def admin_add(data_dir: Path, db: str | None, username: str, display_name: str | None, password_stdin: bool) -> None:
    """Create an admin account, or set a new password for it (its sessions end)."""
    try:
        username = check_username(username)
        password = (sys.stdin.readline().rstrip("\n") if password_stdin
                    else click.prompt("password", hide_input=True, confirmation_prompt=True))
        password_hash = hash_password(password)
    except FleetAuthError as exc:
        raise click.BadParameter(exc.message_vi) from None
    storage, _ = _open(data_dir, db)
    try:
        created = storage.put_admin(username, display_name=display_name or username, password_hash=password_hash,
                                    now=_now())
    finally:
        storage.close()
    click.echo(f"admin {username} {'created' if created else 'updated (new password, sessions ended)'}")


@admin.command("list")
@data_dir_option
def admin_list(data_dir: Path, db: str | None) -> None:
    """List the admin accounts."""
    storage, _ = _open(data_dir, db)
    try:
        accounts = storage.list_admins()
    finally:
        storage.close()
    for a in accounts:
        click.echo(f"{a.username}\t{a.display_name}\t{'disabled' if a.disabled else 'active'}")


@admin.command("disable")
@data_dir_option
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def admin_disable(data_dir: Path, db: str | None, username: str, enable: bool) -> None:
    """Disable an admin account (its sessions end), or enable it again."""
    storage, _ = _open(data_dir, db)
    try:
        found = storage.set_admin_disabled(username, not enable)
    finally:
        storage.close()
    if not found:
        raise click.ClickException(f"no admin {username!r}")
    click.echo(f"admin {username} {'enabled' if enable else 'disabled'}")


@click.command("metrics-token")
@data_dir_option
def metrics_token(data_dir: Path, db: str | None) -> None:
    """Make a new bearer token for /metrics from other hosts (only its SHA-256 is kept)."""
    import hashlib

    from core.fsutil import write_file_atomic

    from ._metrics import TOKEN_FILE

    if not data_dir.is_dir():
        raise click.ClickException(f"no hub data directory {data_dir}")
    token = secrets.token_urlsafe(32)
    write_file_atomic(data_dir / TOKEN_FILE, (hashlib.sha256(token.encode()).hexdigest() + "\n").encode(), mode=0o600)
    click.echo(token)
