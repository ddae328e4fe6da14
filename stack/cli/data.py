"""Commands about the stack's data and secrets: backup, restore, update, secrets rotate, supabase."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stack.cli.ui import ConsoleUi
from stack.config.secrets import REFUSED, ROTATABLE
from stack.errors import ConfigError
from stack.ops import commands
from stack.ops import restore as restoring
from stack.ops.project import compose_for, existing_settings
from stack.ops.supabase_check import gateway_url
from stack.ops.up import prove_supabase_keys
from stack.paths import ROOT


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
def backup(path: Path | None) -> None:
    """Write one archive with every volume, a Postgres dump, .env and checksums (default: backups/)."""
    commands.backup(ROOT, path, ConsoleUi())


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Replace the data of a running stack.")
def restore(path: Path, yes: bool) -> None:
    """Verify a backup's checksums, then bring every volume, the database and .env back."""
    restoring.restore(ROOT, path, yes, ConsoleUi())


@click.command()
@click.option("--no-backup", is_flag=True, help="Skip the backup taken before updating.")
@click.option("--timeout", type=click.IntRange(10, 7200), default=900, show_default=True)
def update(no_backup: bool, timeout: int) -> None:
    """Back up, pull the pinned images, recreate only what changed, wait until ready."""
    restoring.update(ROOT, ConsoleUi(), take_backup=not no_backup, timeout=timeout)


@click.group("secrets")
def secrets_group() -> None:
    """Manage generated secrets."""


@secrets_group.command("rotate")
@click.argument("keys", nargs=-1, required=True, metavar="KEY [KEY]...")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def secrets_rotate(keys: tuple[str, ...], yes: bool) -> None:
    """Replace secrets everywhere they live (database included), then restart what uses them, once."""
    asked = [key for key in dict.fromkeys(keys) if key in ROTATABLE and key not in REFUSED]
    if asked and not yes:
        if not sys.stdin.isatty():
            raise ConfigError("rotating a secret is disruptive; confirm with --yes when not on a terminal")
        effects = "; ".join(f"{key}: {ROTATABLE[key]}" for key in asked)
        click.confirm(f"Rotate {', '.join(asked)}? {effects}.", abort=True)
    changed = commands.rotate_secrets(ROOT, keys, ConsoleUi())
    for name, effect in changed.items():
        click.echo(f"{name}: rotated ({effect})")


@click.group("supabase")
def supabase_group() -> None:
    """Supabase helpers."""


@supabase_group.command("keys")
def supabase_keys() -> None:
    """Print the API URL and the keys a client needs (they are secrets: the service key stays on servers)."""
    settings = existing_settings(ROOT)
    click.echo(f"SUPABASE_URL={gateway_url(settings)}")
    click.echo(f"SUPABASE_ANON_KEY={settings['ANON_KEY']}")
    click.echo(f"SUPABASE_SERVICE_ROLE_KEY={settings['SERVICE_ROLE_KEY']}")


@supabase_group.command("check")
def supabase_check_cmd() -> None:
    """Check through the gateway, with supabase-py, that each key maps to the right role."""
    settings = existing_settings(ROOT)
    for check in prove_supabase_keys(settings, compose_for(settings)):
        click.echo(f"{check.key}: {check.observed} (expected {check.expected})")
