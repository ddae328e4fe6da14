"""Commands that run the stack: render, up, down, status, logs, restart, accounts, doctor."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from stack.cli.options import overrides, stack_options
from stack.cli.ui import ConsoleUi, accounts_table, console, status_table
from stack.config.store import prepare
from stack.doctor.advice import suggested_models
from stack.doctor.checks import run_checks
from stack.doctor.findings import doctor_exit_code, render_report
from stack.doctor.probes import SystemProbe
from stack.errors import ConfigError, StackError
from stack.ops import commands
from stack.ops.project import build_dir, render_stack
from stack.ops.up import up as do_up
from stack.paths import ROOT
from stack.services import check_settings


@click.command()
@stack_options
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Directory to write (default: build/).")
@click.pass_context
def render(ctx: click.Context, profile: str | None, environment: str | None, output: Path | None,
           target: str | None = None) -> None:
    """Write docker-compose.yml, Caddyfile and service configs without starting anything."""
    out = output or build_dir(ROOT)
    result = render_stack(ROOT, overrides(ctx, profile, environment, target), out)
    click.echo(f"Rendered {result.settings.profile}/{result.settings.environment} into {out} "
               f"({len(result.changed)} file(s) changed).")


@click.command()
@stack_options
@click.option("--timeout", type=click.IntRange(10, 7200), default=900, show_default=True,
              help="Seconds to wait for every service to become ready.")
@click.option("--no-pull", is_flag=True, help="Do not pull the OLLAMA_MODELS after start.")
@click.pass_context
def up(ctx: click.Context, profile: str | None = None, environment: str | None = None,
       timeout: int = 900, no_pull: bool = False, target: str | None = None) -> None:
    """Render, start every service, wait until each is really ready, pull models, print where to click."""
    do_up(ROOT, overrides(ctx, profile, environment, target), ConsoleUi(), timeout=timeout, pull_models=not no_pull)


@click.command()
@click.option("--volumes", is_flag=True, help="ALSO delete all data volumes (asks for confirmation).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def down(volumes: bool, yes: bool) -> None:
    """Stop and remove the containers. Data volumes are kept unless --volumes."""
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise ConfigError("--volumes deletes all data; confirm with --yes when not on a terminal")
        click.confirm("Delete ALL data volumes (models, chats, workflows, database)?", abort=True)
    commands.down(ROOT, ConsoleUi(), volumes=volumes)


@click.command()
def accounts() -> None:
    """The logins start.py created (Open WebUI admin, n8n owner, Studio): URL, user, password."""
    console.print(accounts_table(commands.accounts(ROOT)))


@click.command()
def status() -> None:
    """Each service: state, health and URL."""
    settings, rows = commands.status(ROOT, ConsoleUi())
    if not rows:
        console.print(f"Stack {settings.project} is stopped (no containers).")
        return
    console.print(status_table(settings, rows))


@click.command()
@click.argument("service", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep streaming new lines.")
@click.option("--tail", type=click.IntRange(0), default=200, show_default=True)
def logs(service: str | None, follow: bool, tail: int) -> None:
    """Show logs of one service or all."""
    commands.logs(ROOT, service, ConsoleUi(), follow=follow, tail=tail)


@click.command()
@click.argument("service", required=False)
def restart(service: str | None) -> None:
    """Restart one service or all."""
    commands.restart(ROOT, service)
    console.print(f"Restarted {service or 'all services'}.")


@click.command()
@stack_options
@click.pass_context
def doctor(ctx: click.Context, profile: str | None, environment: str | None, target: str | None = None) -> None:
    """Check Docker, Compose, disk, RAM, ports and GPU; say which models fit. Exit 1 on a problem."""
    probe = SystemProbe()
    chosen = overrides(ctx, profile, environment, target)
    settings = prepare(ROOT, chosen, suggest_models=lambda: suggested_models(probe)).settings
    check_settings(settings)
    findings = run_checks(settings, probe)
    console.print(render_report(findings))
    if doctor_exit_code(findings):
        raise StackError("doctor found problems (see the table above)")
