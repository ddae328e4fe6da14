"""The one place that runs external commands: argv lists only, failures become typed CommandErrors."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stack.engines.errors import CommandError, CommandNotFound, CommandTimedOut, classify
from stack.redact import scrub, scrub_argv

STDERR_TAIL_LINES = 20


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        check: bool = True, capture: bool = True, timeout: float | None = None,
        input_text: str | None = None) -> Result:
    """Run `argv` (never through a shell). With check, a non-zero exit raises CommandFailed (or a
    subclass naming the case); a missing program CommandNotFound; a timeout CommandTimedOut."""
    full_env = {**os.environ, **env} if env else None
    shown = " ".join(scrub_argv(argv))
    try:
        proc = subprocess.run(argv, cwd=cwd, env=full_env, check=False, text=True,
                              capture_output=capture, timeout=timeout, input=input_text)
    except FileNotFoundError as exc:
        raise CommandNotFound(f"{argv[0]} is not installed or not on PATH", argv=scrub_argv(argv),
                              returncode=127) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandTimedOut(f"`{shown}` did not finish within {timeout:.0f}s", argv=scrub_argv(argv),
                              returncode=124) from exc
    result = Result(argv, proc.returncode, proc.stdout or "", proc.stderr or "")
    if check and proc.returncode != 0:
        raise failure(argv, proc.returncode, result.stderr or result.stdout)
    return result


def failure(argv: list[str], returncode: int, output: str) -> CommandError:
    """The typed error for a failed command: redacted argv, exit code, last line and tail of its output."""
    err_tail = scrub(tail(output))
    kind = classify(argv, output)
    return kind(f"`{' '.join(scrub_argv(argv))}` failed with exit code {returncode}"
                + (f": {err_tail.splitlines()[-1]}" if err_tail else ""),
                argv=scrub_argv(argv), returncode=returncode, stderr=err_tail)
