"""The click CLI: thin commands that call into stack/ modules."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from stack.errors import ConfigError, StackError
from stack.paths import ROOT
from stack.schema import ENVIRONMENTS, PROFILES


def _stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--environment", "-e", type=click.Choice(ENVIRONMENTS),
                        help="private (127.0.0.1 only) or public (Caddy with HTTPS). Remembered in .env.")(func)
    func = click.option("--profile", "-p", type=click.Choice((*PROFILES, "auto")),
                        help="How Ollama runs (auto: let doctor decide). Remembered in .env.")(func)
    return func


def _overrides(ctx: click.Context, profile: str | None, environment: str | None) -> dict[str, str]:
    parent = ctx.find_root().params
    result: dict[str, str] = {}
    chosen_profile = profile or parent.get("profile")
    chosen_env = environment or parent.get("environment")
    if chosen_profile == "auto":
        from stack.doctor import SystemProbe, detect_profile

        chosen_profile, reason = detect_profile(SystemProbe())
        click.echo(f"--profile auto: {chosen_profile} ({reason})", err=True)
    if chosen_profile:
        result["PROFILE"] = chosen_profile
    if chosen_env:
        result["ENVIRONMENT"] = chosen_env
    return result


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_stack_options
@click.pass_context
def cli(ctx: click.Context, profile: str | None, environment: str | None) -> None:
    """Local AI Stack: Ollama, Open WebUI, n8n, Supabase and SearXNG behind Caddy, on your machine.

    With no command, brings the stack up (same as `up`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(up)


@cli.command()
@_stack_options
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Directory to write (default: build/).")
@click.pass_context
def render(ctx: click.Context, profile: str | None, environment: str | None, output: Path | None) -> None:
    """Write docker-compose.yml, Caddyfile and service configs without starting anything."""
    from stack.lifecycle import build_dir, render_stack

    out = output or build_dir(ROOT)
    result = render_stack(ROOT, _overrides(ctx, profile, environment), out)
    click.echo(f"Rendered {result.settings.profile}/{result.settings.environment} into {out} "
               f"({len(result.changed)} file(s) changed).")


@cli.command()
@_stack_options
@click.option("--timeout", type=click.IntRange(10, 7200), default=900, show_default=True,
              help="Seconds to wait for every service to become ready.")
@click.option("--no-pull", is_flag=True, help="Do not pull the OLLAMA_MODELS after start.")
@click.pass_context
def up(ctx: click.Context, profile: str | None = None, environment: str | None = None,
       timeout: int = 900, no_pull: bool = False) -> None:
    """Render, start every service, wait until each is really ready, pull models, print where to click."""
    from stack.lifecycle import up as do_up

    do_up(ROOT, _overrides(ctx, profile, environment), timeout=timeout, pull_models=not no_pull)


@cli.command()
@click.option("--volumes", is_flag=True, help="ALSO delete all data volumes (asks for confirmation).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def down(volumes: bool, yes: bool) -> None:
    """Stop and remove the containers. Data volumes are kept unless --volumes."""
    from stack.lifecycle import down as do_down

    if volumes and not yes:
        if not sys.stdin.isatty():
            raise ConfigError("--volumes deletes all data; confirm with --yes when not on a terminal")
        click.confirm("Delete ALL data volumes (models, chats, workflows, database)?", abort=True)
    do_down(ROOT, volumes=volumes)


@cli.command()
def accounts() -> None:
    """The logins start.py created (Open WebUI admin, n8n owner, Studio): URL, user, password."""
    from stack.lifecycle import accounts as do_accounts

    do_accounts(ROOT)


@cli.command()
def status() -> None:
    """Each service: state, health and URL."""
    from stack.lifecycle import status as do_status

    do_status(ROOT)


@cli.command()
@click.argument("service", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep streaming new lines.")
@click.option("--tail", type=click.IntRange(0), default=200, show_default=True)
def logs(service: str | None, follow: bool, tail: int) -> None:
    """Show logs of one service or all."""
    from stack.lifecycle import logs as do_logs

    do_logs(ROOT, service, follow=follow, tail=tail)


@cli.command()
@click.argument("service", required=False)
def restart(service: str | None) -> None:
    """Restart one service or all."""
    from stack.lifecycle import restart as do_restart

    do_restart(ROOT, service)


@cli.command()
@_stack_options
@click.pass_context
def doctor(ctx: click.Context, profile: str | None, environment: str | None) -> None:
    """Check Docker, Compose, disk, RAM, ports and GPU; say which models fit. Exit 1 on a problem."""
    from stack.config import prepare
    from stack.doctor import SystemProbe, exit_code, report_table, run_checks
    from stack.lifecycle import console
    from stack.services import check_settings

    settings = prepare(ROOT, _overrides(ctx, profile, environment)).settings
    check_settings(settings)
    findings = run_checks(settings, SystemProbe())
    console.print(report_table(findings))
    if exit_code(findings):
        raise StackError("doctor found problems (see the table above)")


@cli.group()
def models() -> None:
    """List, pull or remove Ollama models."""


@models.command("list")
def models_list() -> None:
    """Models Ollama has."""
    from stack.lifecycle import console, models_client
    from stack.ollama import models_table

    console.print(models_table(models_client(ROOT).models()))


@models.command("pull")
@click.argument("name")
def models_pull(name: str) -> None:
    """Pull one model (skipped if present)."""
    from stack.lifecycle import models_client
    from stack.ollama import check_model_name, pull_missing

    check_model_name(name)
    result = pull_missing(models_client(ROOT), [name])
    if result.failed:
        raise StackError(f"could not pull model {name}: {result.failed[name]}")
    click.echo(f"{name}: {'already present' if result.skipped else 'pulled'}")


@models.command("rm")
@click.argument("name")
def models_rm(name: str) -> None:
    """Remove one model."""
    from stack.lifecycle import models_client
    from stack.ollama import check_model_name

    check_model_name(name)
    models_client(ROOT).delete(name)
    click.echo(f"{name}: removed")


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
def backup(path: Path | None) -> None:
    """Write one archive with every volume, a Postgres dump, .env and checksums (default: backups/)."""
    from stack.lifecycle import backup as do_backup

    do_backup(ROOT, path)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Replace the data of a running stack.")
def restore(path: Path, yes: bool) -> None:
    """Verify a backup's checksums, then bring every volume, the database and .env back."""
    from stack.lifecycle import restore as do_restore

    do_restore(ROOT, path, yes)


@cli.command()
@click.option("--no-backup", is_flag=True, help="Skip the backup taken before updating.")
@click.option("--timeout", type=click.IntRange(10, 7200), default=900, show_default=True)
def update(no_backup: bool, timeout: int) -> None:
    """Back up, pull the pinned images, recreate only what changed, wait until ready."""
    from stack.lifecycle import update as do_update

    do_update(ROOT, take_backup=not no_backup, timeout=timeout)


@cli.group("secrets")
def secrets_group() -> None:
    """Manage generated secrets."""


@secrets_group.command("rotate")
@click.argument("key")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def secrets_rotate(key: str, yes: bool) -> None:
    """Replace one secret everywhere it lives (database included) and restart what uses it."""
    from stack.lifecycle import rotate_secret
    from stack.rotate import REFUSED, ROTATABLE

    if key in ROTATABLE and key not in REFUSED and not yes:
        if not sys.stdin.isatty():
            raise ConfigError("rotating a secret is disruptive; confirm with --yes when not on a terminal")
        click.confirm(f"Rotate {key}? {ROTATABLE[key]}.", abort=True)
    changed = rotate_secret(ROOT, key)
    for name, effect in changed.items():
        click.echo(f"{name}: rotated ({effect})")


@cli.group("supabase")
def supabase_group() -> None:
    """Supabase helpers."""


@supabase_group.command("keys")
def supabase_keys() -> None:
    """Print the API URL and the keys a client needs (they are secrets: the service key stays on servers)."""
    from stack.lifecycle import existing_settings
    from stack.supabase_check import gateway_url

    settings = existing_settings(ROOT)
    click.echo(f"SUPABASE_URL={gateway_url(settings)}")
    click.echo(f"SUPABASE_ANON_KEY={settings['ANON_KEY']}")
    click.echo(f"SUPABASE_SERVICE_ROLE_KEY={settings['SERVICE_ROLE_KEY']}")


@supabase_group.command("check")
def supabase_check_cmd() -> None:
    """Check through the gateway, with supabase-py, that each key maps to the right role."""
    from stack.lifecycle import compose_for, existing_settings, prove_supabase_keys

    settings = existing_settings(ROOT)
    for check in prove_supabase_keys(settings, compose_for(settings)):
        click.echo(f"{check.key}: {check.observed} (expected {check.expected})")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every error becomes one line on stderr and an exit code, never a traceback."""
    try:
        cli.main(args=argv, prog_name="start.py", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            click.echo("interrupted; run the same command again to continue", err=True)
            sys.exit(130)
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.stderr and not isinstance(exc, ConfigError):
            click.echo(exc.stderr, err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; run the same command again to continue", err=True)
        sys.exit(130)
    sys.exit(0)
