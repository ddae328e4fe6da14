"""The rendered compose file, translated into a stack file `docker stack deploy` accepts.

Same templates, same render: this only drops what the docker CLI's stack loader rejects or Swarm
ignores, and adds what Swarm needs. Checked against this machine's docker CLI 28.2.2 (`docker
stack config` rejects a depends_on mapping) and Engine 20.10:

- dropped: `name` (the stack name is the argument), `restart` (Swarm: deploy.restart_policy),
  `depends_on` (Swarm starts everything; restart_policy retries until what a service needs
  answers), GPU `devices` / `group_add` / `deploy.resources.reservations.devices` (Swarm services
  take no devices: a GPU node is chosen by its label, docs/scaling.md);
- ports: long syntax in `mode: host`. Swarm has no host IP in a published port, so every port is
  published on all of the node's interfaces (private mode warns); the routing mesh (ingress) is
  not used: it needs IPVS, which this engine lacks (connection refused on 127.0.0.1);
- `deploy.endpoint_mode: dnsrr`: service names resolve to the tasks' own addresses (the VIP also
  needs IPVS: "no route to host" here); Caddy and Kong see each task;
- placement: a service with volumes or bind-mounted files runs on the node labelled
  `localai.data=true` (its volumes are local to that node); on a GPU profile Ollama runs on a node
  labelled `localai.gpu=true`;
- update order: `start-first` for a service with neither a volume nor a host port (a new task
  answers before the old one stops); `stop-first` otherwise (two Postgres on one data directory, or
  two tasks on one host port, cannot be);
- a healthcheck that calls its own service by name calls 127.0.0.1: Swarm's DNS lists a task only
  once it is healthy, so `http://storage:5000/status` inside storage could never pass (seen here:
  "unable to resolve host address 'storage'");
- networks are overlays; secrets become Docker secrets (stack.engines.swarm_secrets).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stack.engines import swarm_secrets as ss

DATA_LABEL = "localai.data"
GPU_LABEL = "localai.gpu"
DROPPED = ("restart", "depends_on", "devices", "group_add", "container_name", "profiles")
RESTART_POLICY = {"condition": "any", "delay": "5s"}

# image -> (entrypoint, command) as the image declares them (docker image inspect)
ProgramOf = Callable[[str], tuple[list[str], list[str]]]


@dataclass
class StackPlan:
    """The stack file, the Docker secrets it names (name -> value) and what the wrapper exports
    for each service that got it (service -> VAR -> value with ${KEY}s; `exec` runs through it too)."""

    file: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    exports: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def wrapped(self) -> list[str]:
        return list(self.exports)


def _ports(ports: list[Any]) -> list[dict[str, Any]]:
    """`[host_ip:]published:target[/proto]` -> long syntax, host mode (Swarm has no host_ip)."""
    result = []
    for port in ports:
        text, _, proto = str(port).partition("/")
        parts = text.split(":")
        result.append({"target": int(parts[-1]), "published": int(parts[-2]), "protocol": proto or "tcp",
                       "mode": "host"})
    return result


def _volumes(spec: dict[str, Any]) -> bool:
    return bool(spec.get("volumes"))


def _deploy(name: str, spec: dict[str, Any], gpu: bool) -> dict[str, Any]:
    deploy = copy.deepcopy(spec.get("deploy") or {})
    resources = deploy.get("resources") or {}
    (resources.get("reservations") or {}).pop("devices", None)
    for key in [k for k, v in resources.items() if not v]:
        resources.pop(key)
    if not resources:
        deploy.pop("resources", None)
    deploy["endpoint_mode"] = "dnsrr"
    deploy["restart_policy"] = dict(RESTART_POLICY)
    stateless = not _volumes(spec) and not spec.get("ports")
    deploy["update_config"] = {"order": "start-first" if stateless else "stop-first", "failure_action": "rollback"}
    constraints = []
    if gpu and name == "ollama":
        constraints.append(f"node.labels.{GPU_LABEL} == true")
    elif _volumes(spec):
        constraints.append(f"node.labels.{DATA_LABEL} == true")
    if constraints:
        deploy["placement"] = {"constraints": constraints}
    return deploy


def _self_health(name: str, spec: dict[str, Any]) -> None:
    health = spec.get("healthcheck") or {}
    if isinstance(health.get("test"), list):
        health["test"] = [arg.replace(f"//{name}:", "//127.0.0.1:") for arg in health["test"]]


def _program(spec: dict[str, Any], program_of: ProgramOf) -> list[str]:
    """What the container would run: compose's entrypoint (which clears the image's command, as in
    Docker) or the image's, then compose's command or the image's."""
    if "entrypoint" in spec:
        entry = spec["entrypoint"]
        return [*(entry if isinstance(entry, list) else ["/bin/sh", "-c", entry]), *_command(spec.get("command"))]
    image_entry, image_cmd = program_of(spec["image"])
    escaped = [arg.replace("$", "$$") for arg in image_entry]
    if "command" in spec:
        return [*escaped, *_command(spec["command"])]
    return [*escaped, *(arg.replace("$", "$$") for arg in image_cmd)]


def _command(command: Any) -> list[str]:
    if command is None:
        return []
    return list(command) if isinstance(command, list) else ["/bin/sh", "-c", command]


def _secrets(name: str, spec: dict[str, Any], stack: str, values: dict[str, str], plan: StackPlan,
             program_of: ProgramOf) -> None:
    env = spec.get("environment") or {}
    keys: set[str] = set()
    exports: dict[str, str] = {}
    moved: dict[str, str] = {}
    for var, value in list(env.items()):
        found = ss.refs(value)
        if not found:
            continue
        keys.update(found)
        del env[var]
        if value == f"${{{found[0]}}}":
            moved[var] = found[0]
        if value == f"${{{found[0]}}}" and var in ss.FILE_VARS.get(name, ()):
            env[f"{var}_FILE"] = f"{ss.SECRETS_DIR}/{found[0]}"
        else:
            exports[var] = value
    if not keys:
        return
    if "healthcheck" in spec:
        spec["healthcheck"]["test"] = ss.health_test(spec["healthcheck"].get("test"), moved)
    if exports:
        spec["entrypoint"] = ss.wrapper(exports, _program(spec, program_of))
        spec.pop("command", None)
        plan.exports[name] = exports
    spec["secrets"] = [{"source": key, "target": key} for key in sorted(keys)]
    for key in keys:
        secret = ss.secret_name(stack, key, values.get(key, ""))
        plan.secrets[secret] = values.get(key, "")
        plan.file.setdefault("secrets", {})[key] = {"external": True, "name": secret}


def translate(compose: dict[str, Any], stack: str, values: dict[str, str], program_of: ProgramOf,
              gpu: bool = False) -> StackPlan:
    """The stack file for `compose` (the rendered docker-compose.yml, as loaded YAML)."""
    plan = StackPlan(file={"version": "3.9", "services": {}})
    for name, original in compose.get("services", {}).items():
        spec = copy.deepcopy(original)
        for key in DROPPED:
            spec.pop(key, None)
        if spec.get("ports"):
            spec["ports"] = _ports(spec["ports"])
        spec["deploy"] = _deploy(name, spec, gpu)
        _self_health(name, spec)
        _secrets(name, spec, stack, values, plan, program_of)
        plan.file["services"][name] = spec
    networks = {"default": {}, **copy.deepcopy(compose.get("networks") or {})}
    plan.file["networks"] = {key: {**(spec or {}), "driver": "overlay"} for key, spec in networks.items()}
    plan.file["volumes"] = copy.deepcopy(compose.get("volumes") or {})
    if "secrets" in plan.file:
        plan.file["secrets"] = dict(sorted(plan.file["secrets"].items()))
    return plan
