"""The one place that runs external commands: argv lists only, failures become typed CommandErrors."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from stack.config.redact import scrub, scrub_argv
from stack.engines.errors import CommandError, CommandNotFound, CommandTimedOut, classify

STDERR_TAIL_LINES = 20
DOCKER_HINT = ("install Docker Engine (https://docs.docker.com/engine/install/) and start it, e.g. "
               "`sudo systemctl start docker`; your user needs access to the Docker socket")


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def not_found(argv: list[str], hint: str = "") -> CommandNotFound:
    return CommandNotFound(f"{argv[0]} is not installed or not on PATH", argv=scrub_argv(argv), returncode=127,
                           hint=hint)


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
        raise not_found(argv) from exc
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


def pipe(argv: list[str], *, stdin: BinaryIO | None = None, stdout: BinaryIO | int | None = None,
         stderr: BinaryIO | None = None, env: Mapping[str, str] | None = None) -> Result:
    """Run argv with files as stdin/stdout (dumps and restores too big for memory); a non-zero exit
    raises the typed error with the tail of stderr (unless stderr goes to a file of its own)."""
    try:
        proc = subprocess.run(argv, stdin=stdin, stdout=stdout if stdout is not None else subprocess.PIPE,
                              stderr=stderr if stderr is not None else subprocess.PIPE, check=False,
                              env={**os.environ, **env} if env else None)
    except FileNotFoundError as exc:
        raise not_found(argv) from exc
    err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else ""
    out = proc.stdout.decode(errors="replace") if isinstance(proc.stdout, bytes) else ""
    if proc.returncode != 0:
        raise failure(argv, proc.returncode, err)
    return Result(argv, proc.returncode, out, err)


def spawn(argv: list[str]) -> subprocess.Popen[str]:
    """Start argv in the background with its output captured (`up` while readiness is watched)."""
    try:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError as exc:
        raise not_found(argv) from exc


_RELAY_LOCK = threading.Lock()  # relays side by side (images push) write whole lines, never parts


def relay(argv: list[str], keep: list[str] | None = None, prefix: str = "") -> int:
    """Relay argv's output line by line as it comes (logs -f, pulls), every secret value masked and
    each line after `prefix`; Ctrl-C stops it. `keep` collects the relayed lines for a caller that
    explains a failure from them. Returns its exit code."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    except FileNotFoundError as exc:
        raise not_found(argv, DOCKER_HINT if argv[0] == "docker" else "") from exc
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            shown = scrub(line)
            with _RELAY_LOCK:
                sys.stdout.write(prefix + shown)
                sys.stdout.flush()
            if keep is not None:
                keep.append(shown.rstrip("\n"))
    except KeyboardInterrupt:
        proc.terminate()
    return proc.wait()


def drain(argv: list[str], sink: Callable[[bytes], None], chunk: int = 1 << 20) -> Result:
    """Run argv and hand its stdout to `sink` as it comes (`docker save` into a bundle, never into
    memory or a copy). Its stderr goes to a temporary file; a failure keeps argv, code and stderr.
    An error in `sink` or a Ctrl-C kills the program."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        except FileNotFoundError as exc:
            raise not_found(argv, DOCKER_HINT if argv[0] == "docker" else "") from exc
        assert proc.stdout is not None
        try:
            while data := proc.stdout.read(chunk):
                sink(data)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        code = proc.wait()
        err.seek(0)
        text = err.read().decode(errors="replace")
    if code != 0:
        raise failure(argv, code, text)
    return Result(argv, code, "", text)


def feed(argv: list[str], source: BinaryIO, size: int, chunk: int = 1 << 20) -> Result:
    """Run argv with exactly `size` bytes of `source` (from where it stands) as its stdin: one member
    of an archive streamed to `docker load` without copying it out first. Output goes to a
    temporary file, so a chatty program can never block on a full pipe."""
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        except FileNotFoundError as exc:
            raise not_found(argv, DOCKER_HINT if argv[0] == "docker" else "") from exc
        assert proc.stdin is not None
        remaining = size
        try:
            while remaining > 0:
                data = source.read(min(chunk, remaining))
                if not data:
                    break
                proc.stdin.write(data)
                remaining -= len(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the program stopped reading: its exit code and output say why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
        out.seek(0)
        text = out.read().decode(errors="replace")
    if code != 0:
        raise failure(argv, code, text)
    if remaining:
        raise failure(argv, 1, f"the input ended {remaining} bytes early")
    return Result(argv, code, text, "")
