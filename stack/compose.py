"""The ONE place that runs `docker compose -p <project> -f <build>/docker-compose.yml ...`."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stack import runner
from stack.errors import StackError
from stack.redact import scrub

MIN_COMPOSE = (2, 20, 0)
DOCKER_HINT = ("install Docker Engine (https://docs.docker.com/engine/install/) and start it, e.g. "
               "`sudo systemctl start docker`; your user needs access to the Docker socket")
COMPOSE_HINT = ("install the Docker Compose v2 plugin (package docker-compose-plugin, or "
                "https://docs.docker.com/compose/install/linux/)")


@dataclass(frozen=True)
class ContainerState:
    service: str
    state: str      # running | exited | restarting | created | ...
    health: str     # healthy | unhealthy | starting | "" (no healthcheck)
    container_id: str
    publishers: list[dict[str, object]]


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


class Compose:
    """Builds argv from (project, compose file, env file); every call goes through runner.run."""

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
        try:
            proc = subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    errors="replace")
        except FileNotFoundError as exc:
            raise StackError("docker is not installed or not on PATH", hint=DOCKER_HINT) from exc
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                shown = scrub(line)
                sys.stdout.write(shown)
                sys.stdout.flush()
                if keep is not None:
                    keep.append(shown.rstrip("\n"))
        except KeyboardInterrupt:
            proc.terminate()
        return proc.wait()

    def start_up(self) -> subprocess.Popen[str]:
        """`up -d` in the background so readiness can be shown while Compose works."""
        return subprocess.Popen(self.argv("up", "-d", "--remove-orphans", "--quiet-pull"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def failed(self, proc: subprocess.Popen[str], stderr: str) -> StackError:
        return runner.failure(self.argv("up", "-d"), proc.returncode, stderr)

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
