"""The click CLI: one group, the commands by area (stack_cmds, models, data), and main(), which
turns every error into one line and an exit code."""
from __future__ import annotations

import sys

import click

from stack.cli import data, images, models, stack_cmds
from stack.cli.options import stack_options
from stack.errors import ConfigError, StackError


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@stack_options
@click.pass_context
def cli(ctx: click.Context, profile: str | None, environment: str | None, target: str | None) -> None:
    """Local AI Stack: Ollama, Open WebUI, n8n, Supabase and SearXNG behind Caddy, on your machine.

    With no command, brings the stack up (same as `up`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(stack_cmds.up)


for command in (stack_cmds.render, stack_cmds.up, stack_cmds.down, stack_cmds.accounts, stack_cmds.status,
                stack_cmds.logs, stack_cmds.restart, stack_cmds.doctor, models.models, data.backup, data.restore,
                data.update, data.secrets_group, data.supabase_group, images.images):
    cli.add_command(command)


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
