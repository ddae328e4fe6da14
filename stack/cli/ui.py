"""Everything the user sees on a terminal: the consoles, the live readiness view and the tables.
ConsoleUi is the stack.ops.events.Ui the commands hand to ops."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table

from stack.config.settings import Settings
from stack.engines.base import ContainerState
from stack.health import Readiness
from stack.ops.accounts import Account
from stack.ops.events import Progress
from stack.ops.ollama import PullResult
from stack.services import Service, by_name, enabled_services

# Piped output (CI, logs) gets a wide console so URLs are never cut.
console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 200)
progress_console = Console(stderr=True, highlight=False)
PLAIN = {"soft_wrap": True, "markup": False, "highlight": False}


class ConsoleUi:
    """Progress on stderr, results on stdout."""

    def note(self, text: str, *, plain: bool = False) -> None:
        progress_console.print(text, **(PLAIN if plain else {}))  # type: ignore[arg-type]

    def warn(self, text: str) -> None:
        progress_console.print(f"[yellow]warning:[/yellow] {text}")

    def say(self, text: str, *, plain: bool = False) -> None:
        console.print(text, **(PLAIN if plain else {}))  # type: ignore[arg-type]

    @contextmanager
    def waiting(self, services: list[Service]) -> Iterator[Progress]:
        """A live table on a terminal; elsewhere one line each time a service's state changes."""
        interactive = sys.stderr.isatty()
        last_seen: dict[str, str] = {}
        live = Live(progress_table(services, {}, 0), console=progress_console, refresh_per_second=4,
                    transient=True) if interactive else None

        def show(readiness: dict[str, Readiness], elapsed: float) -> None:
            if live:
                live.update(progress_table(services, readiness, elapsed))
                return
            for name, r in readiness.items():
                label = "ready" if r.ready else r.detail
                if last_seen.get(name) != label:
                    last_seen[name] = label
                    print(f"[{elapsed:6.1f}s] {by_name(name).title}: {label}", file=sys.stderr, flush=True)

        if live:
            live.start()
        try:
            yield show
        finally:
            if live:
                live.stop()

    def ready(self, settings: Settings) -> None:
        console.print(url_table(settings))

    def downloads(self) -> RichProgress:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[status]}"))
        return RichProgress(*columns, console=progress_console, transient=False)

    def pulls(self, result: PullResult) -> None:
        for name, reason in result.failed.items():
            progress_console.print(f"[red]could not pull model {name}[/red]: {reason} "
                                   f"(the stack is up; retry with `python start.py models pull {name}`)")


def progress_table(services: list[Service], readiness: dict[str, Readiness], elapsed: float) -> Table:
    table = Table(title=f"Starting Local AI Stack ({elapsed:.0f}s)", title_justify="left")
    table.add_column("Service")
    table.add_column("Status")
    for service in services:
        r = readiness.get(service.name)
        mark = "[green]ready[/green]" if r and r.ready else f"[yellow]{r.detail if r else 'waiting'}[/yellow]"
        table.add_row(service.title, mark)
    return table


def url_table(settings: Settings) -> Table:
    table = Table(title=f"Local AI Stack is ready ({settings.profile}, {settings.environment})",
                  title_justify="left")
    table.add_column("Service")
    table.add_column("Open", no_wrap=True)
    table.add_column("Next step")
    for service in enabled_services(settings):
        url = service.link(settings)
        if not url:
            continue
        table.add_row(service.title, url, service.note.format_map(settings.values))
    if settings.profile == "none":
        table.add_row("Ollama (host)", settings["OLLAMA_HOST_URL"], "runs on this machine, outside the stack")
    return table


def status_table(settings: Settings, rows: list[tuple[Service, ContainerState | None]]) -> Table:
    table = Table(title=f"Local AI Stack ({settings.profile}, {settings.environment})", title_justify="left")
    for column in ("Service", "State", "Health", "URL"):
        table.add_column(column)
    for service, state in rows:
        table.add_row(service.name, state.state if state else "not created",
                      (state.health or "-") if state else "-", service.user_url(settings))
    return table


def accounts_table(rows: list[Account]) -> Table:
    table = Table(title="Logins created by start.py (kept in .env)", title_justify="left")
    for column in ("Service", "Account", "Open", "User", "Password"):
        table.add_column(column, no_wrap=column != "Service")
    for row in rows:
        table.add_row(row.service, row.role, row.url, row.login, row.password)
    return table


def models_table(models: list[dict[str, object]]) -> Table:
    table = Table(title="Ollama models", title_justify="left")
    for column in ("Name", "Size", "Modified"):
        table.add_column(column)
    for model in sorted(models, key=lambda m: str(m.get("name"))):
        size = int(model.get("size") or 0)  # type: ignore[call-overload]
        table.add_row(str(model.get("name")), f"{size / 1e9:.2f} GB", str(model.get("modified_at", ""))[:19])
    return table

