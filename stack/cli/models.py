"""`models list|pull|rm`: the models Ollama has."""
from __future__ import annotations

import click

from stack.cli.ui import ConsoleUi, console, models_table
from stack.errors import StackError
from stack.ops.commands import models_client
from stack.ops.ollama import check_model_name, pull_missing
from stack.paths import ROOT


@click.group()
def models() -> None:
    """List, pull or remove Ollama models."""


@models.command("list")
def models_list() -> None:
    """Models Ollama has."""
    console.print(models_table(models_client(ROOT, ConsoleUi()).models()))


@models.command("pull")
@click.argument("name")
def models_pull(name: str) -> None:
    """Pull one model (skipped if present)."""
    check_model_name(name)
    result = pull_missing(models_client(ROOT, ConsoleUi()), [name], ConsoleUi().downloads())
    if result.failed:
        raise StackError(f"could not pull model {name}: {result.failed[name]}")
    click.echo(f"{name}: {'already present' if result.skipped else 'pulled'}")


@models.command("rm")
@click.argument("name")
def models_rm(name: str) -> None:
    """Remove one model."""
    check_model_name(name)
    models_client(ROOT, ConsoleUi()).delete(name)
    click.echo(f"{name}: removed")
