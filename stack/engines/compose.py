"""Compose, the first Engine: the ONE place that runs
`docker compose -p <project> -f <build>/docker-compose.yml ...`."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from stack.config.redact import scrub
from stack.engines import runner
from stack.engines.base import ContainerState, ExecByPrefix
from stack.engines.runner import DOCKER_HINT
from stack.errors import StackError

MIN_COMPOSE = (2, 20, 0)
COMPOSE_HINT = ("install the Docker Compose v2 plugin (package docker-compose-plugin, or "
                "https://docs.docker.com/compose/install/linux/)")


def check_docker() -> tuple[str, str]:
    """(engine version, compose version), or a StackError that says how to fix it."""
    try:
        engine = runner.run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=30).stdout.strip()
    except StackError as exc:
        raise StackError("Docker Engine is not answering", hint=DOCKER_HINT, stderr=exc.stderr) from exc
    try:
        out = runner.run(["docker", "compose", "version", "--short"], timeout=30).stdout.strip()
    except StackError as exc:
        raise StackError("Docker Compose v2 (`docker compose`) is not available", hint=COMPOSE_HINT) from exc
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", out)
    if not match or tuple(int(x) for x in match.groups()) < MIN_COMPOSE:
        need = ".".join(map(str, MIN_COMPOSE))
        raise StackError(f"Docker Compose {out or '?'} is too old; {need} or newer is needed", hint=COMPOSE_HINT)
    return engine, out.lstrip("v")


class Compose(ExecByPrefix):
    """The Engine for one Compose project: argv from (project, compose file, env file), every call
    through stack.engines.runner."""

    def __init__(self, project: str, compose_file: Path, env_file: Path) -> None:
        self.project = project
        self.base = ["docker", "compose", "-p", project, "-f", str(compose_file), "--env-file", str(env_file)]

    def argv(self, *args: str) -> list[str]:
        return [*self.base, *args]

    def run(self, *args: str, check: bool = True, timeout: float | None = None,
            input_text: str | None = None) -> runner.Result:
        return runner.run(self.argv(*args), check=check, timeout=timeout, input_text=input_text)

    def stream(self, *args: str, keep: list[str] | None = None) -> int:
        """Relay output line by line as it comes (logs -f), with any secret value masked; `keep`
        collects the relayed lines for a caller that explains a failure from them."""
        return runner.relay(self.argv(*args), keep=keep)

    def up(self) -> subprocess.Popen[str]:
        """`up -d` in the background so readiness can be shown while Compose works."""
        return runner.spawn(self.argv("up", "-d", "--remove-orphans", "--quiet-pull"))

    def up_failed(self, proc: subprocess.Popen[str], stderr: str) -> StackError:
        return runner.failure(self.argv("up", "-d"), proc.returncode, stderr)

    def start(self, *services: str, timeout: float = 600) -> None:
        self.run("up", "-d", *services, timeout=timeout)

    def create(self, timeout: float = 600) -> None:
        self.run("create", timeout=timeout)

    def down(self, volumes: bool = False, timeout: float = 600) -> None:
        self.run("down", "--remove-orphans", *(["--volumes"] if volumes else []), timeout=timeout)

    def restart(self, *services: str, timeout: float = 600) -> None:
        self.run("restart", *services, timeout=timeout)

    def exec_prefix(self, service: str) -> list[str]:
        return self.argv("exec", "-T", service)

    def logs(self, service: str | None = None, *, tail: int = 200, follow: bool = False) -> int:
        return self.stream("logs", "--no-color", "--tail", str(tail), *(["--follow"] if follow else []),
                           *([service] if service else []))

    def pull(self, *, keep: list[str] | None = None) -> int:
        return self.stream("pull", "--policy", "missing", keep=keep)

    def volume_name(self, volume: str) -> str:
        """Compose names a project's volume `<project>_<key>` (compose-spec: volumes are project-scoped)."""
        return f"{self.project}_{volume}"

    def states(self) -> dict[str, ContainerState]:
        out = self.run("ps", "-a", "--format", "json", timeout=60).stdout
        rows: list[dict[str, object]] = []
        text = out.strip()
        if text.startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        result: dict[str, ContainerState] = {}
        for row in rows:
            service = str(row.get("Service", ""))
            result[service] = ContainerState(
                service=service, state=str(row.get("State", "")), health=str(row.get("Health", "")),
                container_id=str(row.get("ID", "")), publishers=list(row.get("Publishers") or []))  # type: ignore[arg-type]
        return result

    def logs_tail(self, service: str, lines: int = 30) -> str:
        result = self.run("logs", "--no-color", "--tail", str(lines), service, check=False, timeout=60)
        return scrub((result.stdout + result.stderr).strip())
