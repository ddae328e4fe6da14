"""What ops tells the user, as a protocol: ops calls it, the CLI (stack.cli.ui) draws it.

Keeping consoles out of ops keeps the layers one way (cli -> ops) and lets tests and benches
run an operation with a silent Ui.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from rich.progress import Progress as RichProgress

from stack.config.settings import Settings
from stack.health import Readiness
from stack.ops.ollama import PullResult
from stack.services import Service

Progress = Callable[[dict[str, Readiness], float], None]


class Ui(Protocol):
    def note(self, text: str, *, plain: bool = False) -> None:
        """A progress line (stderr); plain: no markup, no wrapping of long paths."""
        ...

    def warn(self, text: str) -> None:
        """Something went wrong but the command goes on."""
        ...

    def say(self, text: str, *, plain: bool = False) -> None:
        """A result line (stdout)."""
        ...

    def waiting(self, services: list[Service]) -> AbstractContextManager[Progress]:
        """A live view of readiness while `up` waits; yields the function to update it."""
        ...

    def ready(self, settings: Settings) -> None:
        """The table of where to click, once everything is ready."""
        ...

    def downloads(self) -> RichProgress:
        """The progress view model pulls draw their bars in (shown while it is entered)."""
        ...

    def pulls(self, result: PullResult) -> None:
        """What went wrong pulling models (the stack is up anyway)."""
        ...
