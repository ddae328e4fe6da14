"""Waiting until every service answers its own readiness probe, while Compose is still working."""
from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass, field

from stack.config.settings import Settings
from stack.engines.base import ContainerState, Engine
from stack.engines.errors import unschedulable
from stack.errors import StackError
from stack.health import Readiness, check_all
from stack.ops.events import Ui
from stack.ops.ollama import PullResult
from stack.services import enabled_services

POLL_SECONDS = 1.0
# A task no node can take (Swarm: "no suitable node") is reported after this long, not at the
# deadline: the scheduler retries, but only a change of nodes or labels would place it.
UNPLACEABLE_SECONDS = 10.0


@dataclass
class UpReport:
    settings: Settings
    readiness: dict[str, Readiness]
    seconds_total: float = 0.0
    seconds_control_plane: float = 0.0
    seconds_compose_up: float = 0.0
    seconds_waiting: float = 0.0
    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    pulls: PullResult | None = None


def wait_until_ready(settings: Settings, engine: Engine, proc: subprocess.Popen[str] | None,
                     timeout: float, report: UpReport, ui: Ui) -> None:
    """Poll every service until all are ready, Compose fails, or the deadline passes."""
    services = enabled_services(settings)
    start = time.monotonic()
    deadline = start + timeout
    last_seen: dict[str, str] = {}
    stuck_since: float | None = None
    try:
        with ui.waiting(services) as show:
            while True:
                if proc is not None and proc.poll() is not None:
                    _, compose_stderr = proc.communicate()
                    report.seconds_compose_up = time.monotonic() - start
                    if proc.returncode != 0:
                        raise engine.up_failed(proc, compose_stderr)
                    proc = None
                states = engine.states()
                stuck = unplaceable(states)
                stuck_since = (stuck_since or time.monotonic()) if stuck else None
                if stuck and proc is None and time.monotonic() - stuck_since >= UNPLACEABLE_SECONDS:
                    raise unplaceable_error(stuck)
                readiness = check_all(services, settings, states)
                elapsed = time.monotonic() - start
                for name, r in readiness.items():
                    label = "ready" if r.ready else r.detail
                    if last_seen.get(name) != label:
                        last_seen[name] = label
                        report.timeline.append((round(elapsed, 2), name, label))
                show(readiness, elapsed)
                if proc is None and all(r.ready for r in readiness.values()):
                    report.readiness = readiness
                    return
                if time.monotonic() >= deadline:
                    if proc is not None:
                        proc.terminate()
                        proc.communicate()
                    raise not_ready_error(engine, readiness, set(states), timeout)
                if proc is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=POLL_SECONDS)
                else:
                    time.sleep(POLL_SECONDS)
    finally:
        report.seconds_waiting = time.monotonic() - start


def not_ready_error(engine: Engine, readiness: dict[str, Readiness], created: set[str],
                    timeout: float) -> StackError:
    """Name the services that are failing first; those whose container was never created are
    waiting on them (Compose creates a service only once what it depends on is healthy)."""
    waiting = [r for r in readiness.values() if not r.ready]
    failing = [r for r in waiting if r.service in created] or waiting
    blocked = [r.service for r in waiting if r not in failing]
    message = f"not ready after {timeout:.0f}s: " + ", ".join(f"{r.service} ({r.detail})" for r in failing)
    if blocked:
        message += f"; not started yet, waiting on those: {', '.join(blocked)}"
    logs = "\n".join(f"--- last log lines of {r.service} ---\n{engine.logs_tail(r.service, 20)}"
                     for r in failing[:3])
    return StackError(message, stderr=logs,
                      hint=f"see `python start.py logs {failing[0].service}`; "
                           "`python start.py status` shows each service")


def unplaceable(states: dict[str, ContainerState]) -> dict[str, str]:
    """service -> the engine's reason, for services no node can run."""
    return {name: state.error for name, state in sorted(states.items()) if unschedulable(state.error)}


def unplaceable_error(stuck: dict[str, str]) -> StackError:
    return StackError("cannot place " + "; ".join(f"{name}: {error}" for name, error in stuck.items()),
                      hint="give a node the label its placement asks for, e.g. `docker node update --label-add "
                           "localai.gpu=true <node>` (README: Swarm)")
