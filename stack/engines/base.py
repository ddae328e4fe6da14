"""The engine seam: what the control plane asks of a container engine. Compose is the first
implementation (stack.engines.compose); stack.engines.swarm (issue 11) is the second.

Callers name a service and the program to run in it; how that becomes `docker compose exec -T`
(or `docker exec` on a task) is the engine's business, never theirs.
"""
from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from stack.engines import runner
from stack.engines.runner import Result


@dataclass(frozen=True)
class ContainerState:
    service: str
    state: str      # running | exited | restarting | created | ...
    health: str     # healthy | unhealthy | starting | "" (no healthcheck)
    container_id: str
    publishers: list[dict[str, object]]
    error: str = ""  # why the engine has not run it (Swarm: the task's error, e.g. "no suitable node")


class Engine(Protocol):
    """Every engine operation the stack uses. Failures raise stack.engines.errors types."""

    project: str

    def up(self) -> subprocess.Popen[str]:
        """Create/recreate and start everything, in the background (readiness is watched meanwhile)."""
        ...

    def up_failed(self, proc: subprocess.Popen[str], stderr: str) -> Exception:
        """The typed error for a background `up` that exited non-zero."""
        ...

    def start(self, *services: str, timeout: float = 600) -> None:
        """Start only these services (and what they depend on)."""
        ...

    def create(self, timeout: float = 600) -> None: ...

    def down(self, volumes: bool = False, timeout: float = 600) -> None: ...

    def restart(self, *services: str, timeout: float = 600) -> None: ...

    def states(self) -> dict[str, ContainerState]:
        """service name -> its container's state (services never created are absent)."""
        ...

    def exec(self, service: str, argv: list[str], *, input_text: str | None = None, timeout: float | None = None,
             check: bool = True, env: Mapping[str, str] | None = None) -> Result:
        """Run argv inside the running service; text in, text out."""
        ...

    def exec_binary(self, service: str, argv: list[str], *, stdin: BinaryIO | None = None,
                    stdout: BinaryIO | int | None = None, stderr: BinaryIO | None = None) -> Result:
        """Run argv inside the running service with files as its stdin/stdout (dumps, restores)."""
        ...

    def exec_prefix(self, service: str) -> list[str]:
        """argv that runs what follows it inside the service (for helpers that add their own env)."""
        ...

    def logs(self, service: str | None = None, *, tail: int = 200, follow: bool = False) -> int:
        """Relay logs to stdout (secrets masked); the exit code of the log stream."""
        ...

    def logs_tail(self, service: str, lines: int = 30) -> str: ...

    def pull(self, *, keep: list[str] | None = None) -> int:
        """Fetch the images that are not here yet, with progress; 0 on success. `keep` collects
        the lines shown, for explaining a failure."""
        ...

    def volume_name(self, volume: str) -> str:
        """The engine's name of a volume the compose file calls `volume`."""
        ...


class ExecByPrefix:
    """exec and exec_binary for an engine that says how to reach a service (`exec_prefix`): the two
    engines differ only there (`compose exec -T`, or `docker exec` through Swarm's secrets wrapper)."""

    def exec_prefix(self, service: str) -> list[str]:
        raise NotImplementedError

    def exec(self, service: str, argv: list[str], *, input_text: str | None = None, timeout: float | None = None,
             check: bool = True, env: Mapping[str, str] | None = None) -> Result:
        return runner.run([*self.exec_prefix(service), *argv], check=check, timeout=timeout, input_text=input_text,
                          env=env)

    def exec_binary(self, service: str, argv: list[str], *, stdin: BinaryIO | None = None,
                    stdout: BinaryIO | int | None = None, stderr: BinaryIO | None = None) -> Result:
        return runner.pipe([*self.exec_prefix(service), *argv], stdin=stdin, stdout=stdout, stderr=stderr)
