"""Swarm, the second Engine: the rendered compose file deployed with `docker stack deploy`.

The stack file is made at deploy time from build/docker-compose.yml (stack.engines.swarm_stack), as
build/swarm-stack.yml: no secret value in it, only the names of the Docker secrets, which are
created here from the settings (value on stdin, never argv). A stack's services are named
`<stack>_<service>`; its volumes `<stack>_<volume>`, as Compose names them, so the same data serves
both targets. exec and logs reach the tasks on this node (a one-node swarm, or the manager's own).
"""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from stack.config.redact import scrub
from stack.engines import runner, swarm_state
from stack.engines import swarm_secrets as ss
from stack.engines.base import ContainerState, ExecByPrefix
from stack.engines.swarm_stack import DATA_LABEL, StackPlan, translate
from stack.errors import StackError

STACK_FILE = "swarm-stack.yml"
SECRET_LABEL = "localai.stack"
SWARM_HINT = ("make this Docker Engine a swarm manager (`docker swarm init`) and label the node that keeps the "
              f"data: `docker node update --label-add {DATA_LABEL}=true <node>`")


def check_swarm() -> None:
    """This engine is an active swarm manager, or one line saying how to make it one."""
    out = runner.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"],
                     timeout=30).stdout.split()
    if out[:2] != ["active", "true"]:
        raise StackError("TARGET=swarm, but this Docker Engine is not a swarm manager", hint=SWARM_HINT)


class Swarm(ExecByPrefix):
    """The Engine for one stack: `docker stack`, `docker service` and `docker secret`, through the runner."""

    def __init__(self, project: str, compose_file: Path, values: Mapping[str, str], gpu: bool = False) -> None:
        self.project = project
        self.compose_file = compose_file
        self.stack_file = compose_file.parent / STACK_FILE
        self.values = dict(values)
        self.gpu = gpu
        self._programs: dict[str, tuple[list[str], list[str]]] = {}
        self._plan: StackPlan | None = None

    # -- the stack file and its secrets ------------------------------------------------------
    def program_of(self, image: str) -> tuple[list[str], list[str]]:
        """The image's own entrypoint and command (the secrets wrapper execs them)."""
        if image not in self._programs:
            out = runner.run(["docker", "image", "inspect", "--format", "{{json .Config}}", image], timeout=60).stdout
            config = json.loads(out)
            self._programs[image] = (list(config.get("Entrypoint") or []), list(config.get("Cmd") or []))
        return self._programs[image]

    def plan(self) -> StackPlan:
        compose = yaml.safe_load(self.compose_file.read_text())
        return translate(compose, self.project, self.values, self.program_of, gpu=self.gpu)

    def secret_names(self) -> list[str]:
        out = runner.run(["docker", "secret", "ls", "--filter", f"label={SECRET_LABEL}={self.project}",
                          "--format", "{{.Name}}"], timeout=60).stdout
        return sorted(out.split())

    def _create_secrets(self, plan: StackPlan) -> None:
        have = set(self.secret_names())
        for name, value in sorted(plan.secrets.items()):
            if name not in have:
                runner.run(["docker", "secret", "create", "--label", f"{SECRET_LABEL}={self.project}", name, "-"],
                           input_text=value, timeout=60)

    def _drop_stale_secrets(self, keep: set[str]) -> None:
        """Secrets of earlier deploys that no service uses any more (one still in use stays)."""
        for name in self.secret_names():
            if name not in keep:
                runner.run(["docker", "secret", "rm", name], check=False, timeout=60)

    def write_stack_file(self) -> StackPlan:
        plan = self.plan()
        text = ("# Made by Local AI Stack from docker-compose.yml for `docker stack deploy`. No secret value: "
                "only the names of Docker secrets.\n"
                + yaml.safe_dump(plan.file, sort_keys=False, default_flow_style=False, width=4096))
        if not self.stack_file.exists() or self.stack_file.read_text() != text:
            self.stack_file.write_text(text)
        return plan

    def deploy_argv(self) -> list[str]:
        return ["docker", "stack", "deploy", "--compose-file", str(self.stack_file), "--prune",
                "--resolve-image", "never", "--detach=true", self.project]

    # -- the Engine operations ---------------------------------------------------------------
    def up(self) -> subprocess.Popen[str]:
        """Create the secrets, write the stack file, then `docker stack deploy` in the background.
        `--resolve-image never`: the images are the ones on the nodes (no registry is asked)."""
        check_swarm()
        plan = self.write_stack_file()
        self._create_secrets(plan)
        self._drop_stale_secrets(set(plan.secrets))
        return runner.spawn(self.deploy_argv())

    def up_failed(self, proc: subprocess.Popen[str], stderr: str) -> StackError:
        return runner.failure(self.deploy_argv(), proc.returncode, stderr)

    def start(self, *services: str, timeout: float = 600) -> None:
        """Deploy the stack (Swarm starts every service; it cannot start some alone)."""
        proc = self.up()
        _, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise self.up_failed(proc, err)

    def create(self, timeout: float = 600) -> None:
        self.start(timeout=timeout)

    def service(self, name: str) -> str:
        return f"{self.project}_{name}"

    def _services(self) -> list[dict[str, Any]]:
        return swarm_state.services(self.project)

    def down(self, volumes: bool = False, timeout: float = 600) -> None:
        """`docker stack rm`, wait until its containers are gone, then its secrets (and volumes if asked)."""
        if self._services():
            runner.run(["docker", "stack", "rm", self.project], timeout=timeout)
        wait_gone(self.project, timeout)
        for name in self.secret_names():
            runner.run(["docker", "secret", "rm", name], check=False, timeout=60)
        if volumes:
            out = runner.run(["docker", "volume", "ls", "-q", "--filter",
                              f"label=com.docker.stack.namespace={self.project}"], timeout=60).stdout
            for volume in out.split():
                runner.run(["docker", "volume", "rm", volume], timeout=120)

    def restart(self, *services: str, timeout: float = 600) -> None:
        """`docker service update --force`: new tasks, in each service's own update order."""
        names = [self.service(s) for s in services] or [s["Spec"]["Name"] for s in self._services()]
        for name in names:
            runner.run(["docker", "service", "update", "--force", "--detach", "--quiet", name], timeout=timeout)

    def states(self) -> dict[str, ContainerState]:
        return swarm_state.states(self.project)

    def _container(self, service: str) -> str:
        state = self.states().get(service)
        if not state or not state.container_id:
            raise StackError(f"{service} has no running task on this node")
        return state.container_id

    def exec_prefix(self, service: str) -> list[str]:
        """`docker exec` on the service's task here, through the same secrets wrapper as its own
        program: what runs there sees the environment Compose's `exec` would give it."""
        if self._plan is None:
            self._plan = self.plan()
        exports = self._plan.exports.get(service)
        inner = ss.wrapper(exports, [], escape=False) if exports else []
        return ["docker", "exec", "-i", self._container(service), *inner]

    def logs(self, service: str | None = None, *, tail: int = 200, follow: bool = False) -> int:
        if service is None:
            if follow:
                raise StackError("on Swarm, follow the logs of one service: `start.py logs SERVICE -f`")
            codes = [runner.relay(["docker", "service", "logs", "--no-trunc", "--tail", str(tail), s["Spec"]["Name"]])
                     for s in self._services()]
            return max(codes, default=0)
        return runner.relay(["docker", "service", "logs", "--no-trunc", "--tail", str(tail),
                             *(["--follow"] if follow else []), self.service(service)])

    def logs_tail(self, service: str, lines: int = 30) -> str:
        result = runner.run(["docker", "service", "logs", "--no-trunc", "--tail", str(lines), self.service(service)],
                            check=False, timeout=60)
        return scrub((result.stdout + result.stderr).strip())

    def pull(self, *, keep: list[str] | None = None) -> int:
        """Pull the stack's images that this node does not have (each node needs them)."""
        compose = yaml.safe_load(self.compose_file.read_text())
        for image in sorted({spec["image"] for spec in compose["services"].values()}):
            if runner.run(["docker", "image", "inspect", image], check=False, timeout=60).returncode != 0:
                code = runner.relay(["docker", "pull", image], keep=keep)
                if code != 0:
                    return code
        return 0

    def volume_name(self, volume: str) -> str:
        """`docker stack deploy` names a stack's volume `<stack>_<key>`, as Compose does."""
        return f"{self.project}_{volume}"



def wait_gone(project: str, timeout: float) -> None:
    """`docker stack rm` returns at once; its containers and networks go in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = runner.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={project}"],
                          timeout=60).stdout.split()
        nets = runner.run(["docker", "network", "ls", "-q", "--filter",
                           f"label=com.docker.stack.namespace={project}"], timeout=60).stdout.split()
        if not left and not nets:
            return
        time.sleep(1)
    raise StackError(f"stack {project} still has containers after {timeout:.0f}s")
