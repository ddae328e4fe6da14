"""Errors the CLI turns into one clear line and an exit code (2 usage, 1 runtime)."""
from __future__ import annotations


class StackError(Exception):
    """A runtime failure. Keeps the (already redacted) command, its exit code and stderr tail."""

    exit_code = 1

    def __init__(self, message: str, *, command: list[str] | None = None,
                 returncode: int | None = None, stderr: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(StackError):
    """Bad input from the user (flags or .env): a usage error."""

    exit_code = 2
