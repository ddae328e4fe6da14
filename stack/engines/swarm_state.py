"""What a stack's services are doing, as ContainerStates: one per service, from its tasks.

A service is "running" only when every replica it wants has a running task; its health is the
worst of its tasks' containers on this node. A service short of replicas carries the error of its
newest task that did not run (`docker stack ps --no-trunc`), e.g. "no suitable node (scheduling
constraints not satisfied on 1 node)", so readiness can name it.
"""
from __future__ import annotations

import json
from typing import Any

from stack.engines import runner
from stack.engines.base import ContainerState

HEALTH_ORDER = ("unhealthy", "starting", "healthy", "")
# What makes a task current: the parts of the service's task template a deploy changes. The whole
# template differs from a task's spec in defaults the daemon fills in (Runtime, StopGracePeriod, ...).
SPEC_KEYS = ("Image", "Env", "Command", "Args", "Secrets", "Mounts", "Healthcheck", "Labels", "User", "Dir")


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def services(project: str) -> list[dict[str, Any]]:
    ids = runner.run(["docker", "service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={project}"],
                     timeout=60).stdout.split()
    return json.loads(runner.run(["docker", "service", "inspect", *ids], timeout=60).stdout) if ids else []


def _containers(project: str) -> dict[str, dict[str, Any]]:
    """task id -> `docker inspect` of its container, for the tasks on this node."""
    ids = runner.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={project}"],
                     timeout=60).stdout.split()
    if not ids:
        return {}
    found = json.loads(runner.run(["docker", "inspect", *ids], check=False, timeout=60).stdout or "[]")
    return {c["Config"]["Labels"].get("com.docker.swarm.task.id", ""): c for c in found}


def _tasks(project: str) -> list[dict[str, Any]]:
    out = runner.run(["docker", "stack", "ps", project, "--no-trunc", "--format", "{{json .}}"],
                     check=False, timeout=60).stdout
    return _json_lines(out)


def fingerprint(spec: dict[str, Any]) -> str:
    container = spec.get("ContainerSpec") or {}
    return json.dumps({**{key: container.get(key) or None for key in SPEC_KEYS},
                       "Placement": spec.get("Placement") or None, "ForceUpdate": spec.get("ForceUpdate") or 0},
                      sort_keys=True)


def _task_specs(tasks: list[dict[str, Any]]) -> dict[str, str]:
    """task id -> fingerprint of its spec, for the tasks that should be running."""
    ids = [t["ID"] for t in tasks if t.get("DesiredState") == "Running"]
    if not ids:
        return {}
    out = runner.run(["docker", "inspect", "--type", "task", *ids], check=False, timeout=60).stdout
    found = json.loads(out or "[]")
    return {t["ID"]: fingerprint(t.get("Spec") or {}) for t in found}


def wanted(service: dict[str, Any]) -> int:
    mode = service["Spec"].get("Mode", {})
    return int(mode["Replicated"].get("Replicas", 1)) if "Replicated" in mode else 1


def service_state(name: str, want: int, tasks: list[dict[str, Any]], containers: dict[str, dict[str, Any]],
                  publishers: list[dict[str, object]], stale: set[str] | None = None) -> ContainerState:
    """One service's state from its tasks (newest first, as `docker stack ps` lists them); `stale`
    tasks run an older spec than the service's (a deploy not rolled out yet) and do not count."""
    stale = stale or set()
    if any(t["ID"] in stale for t in tasks if t.get("DesiredState") == "Running"):
        tasks = [t for t in tasks if t["ID"] not in stale]
        if not any(t.get("DesiredState") == "Running" for t in tasks):
            return ContainerState(name, f"0/{want} running, updating", "", "", publishers)
    live = [t for t in tasks if t.get("DesiredState") == "Running"]
    running, healths, container_id = 0, [], ""
    for task in live:
        container = containers.get(task["ID"])
        if container is not None:
            if container["State"]["Status"] == "running":
                running += 1
                container_id = container_id or container["Id"]
                healths.append((container["State"].get("Health") or {}).get("Status", ""))
        elif str(task.get("CurrentState", "")).lower().startswith("running"):
            running += 1  # on another node: Swarm's word for it
    error = next((str(t["Error"]).strip('"') for t in [*live, *tasks] if t.get("Error")), "")
    health = min(healths, key=HEALTH_ORDER.index) if healths else ""
    if running >= want and want > 0:
        return ContainerState(name, "running", health, container_id, publishers)
    current = str(live[0].get("CurrentState", "")).split(" ")[0].lower() if live else "no task"
    state = f"{running}/{want} running, {current}" + (f": {error}" if error else "")
    return ContainerState(name, state, health, container_id, publishers, error=error)


def states(project: str) -> dict[str, ContainerState]:
    found = services(project)
    if not found:
        return {}
    tasks = _tasks(project)
    specs = _task_specs(tasks)
    containers = _containers(project)
    prefix = f"{project}_"
    result: dict[str, ContainerState] = {}
    for service in found:
        full = service["Spec"]["Name"]
        name = full.removeprefix(prefix)
        mine = [t for t in tasks if str(t.get("Name", "")).rsplit(".", 1)[0] == full]
        ports = service.get("Endpoint", {}).get("Ports") or service["Spec"].get("EndpointSpec", {}).get("Ports") or []
        publishers: list[dict[str, object]] = [
            {"PublishedPort": p.get("PublishedPort"), "TargetPort": p.get("TargetPort")} for p in ports]
        current = fingerprint(service["Spec"].get("TaskTemplate") or {})
        stale = {task for task, spec in specs.items() if spec != current}
        result[name] = service_state(name, wanted(service), mine, containers, publishers, stale)
    return result
