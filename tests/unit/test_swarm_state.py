"""A Swarm service's state from its tasks, and `up` stopping on a task no node can take.

The task rows are what `docker stack ps --no-trunc --format '{{json .}}'` prints on Engine 20.10
(seen on this machine's one-node swarm); the scheduler's words are swarmkit's ("no suitable node").
"""
from __future__ import annotations

import contextlib
import inspect

import pytest

from stack.engines.base import ContainerState
from stack.engines.swarm import Swarm
from stack.engines.swarm_state import service_state
from stack.errors import StackError
from stack.ops import readiness
from stack.ops.readiness import UpReport, wait_until_ready
from tests.conftest import run_start
from tests.unit.test_engine_seam import protocol_methods
from tests.unit.test_swarm_render import settings

REASON = "no suitable node (scheduling constraints not satisfied on 1 node)"
# `docker stack ps --format '{{json .}}'` prints the error quoted inside the string
PENDING = {"ID": "t2", "Name": "s_ollama.1", "DesiredState": "Running", "CurrentState": "Pending 3 seconds ago",
           "Error": f'"{REASON}"'}


def container(status: str, health: str = "") -> dict:
    return {"Id": "c1", "State": {"Status": status, **({"Health": {"Status": health}} if health else {})}}


def test_a_running_healthy_task_makes_the_service_running():
    task = {"ID": "t1", "Name": "s_db.1", "DesiredState": "Running", "CurrentState": "Running 1 minute ago"}
    state = service_state("db", 1, [task], {"t1": container("running", "healthy")}, [])
    assert (state.state, state.health, state.container_id, state.error) == ("running", "healthy", "c1", "")


def test_a_pending_task_names_the_schedulers_reason():
    old = {"ID": "t1", "Name": "s_ollama.1", "DesiredState": "Shutdown", "CurrentState": "Shutdown 1 second ago"}
    state = service_state("ollama", 1, [PENDING, old], {}, [])
    assert state.state == f"0/1 running, pending: {REASON}"
    assert state.error == REASON


def test_short_of_replicas_is_not_running():
    task = {"ID": "t1", "Name": "s_rest.1", "DesiredState": "Running", "CurrentState": "Running 5 seconds ago"}
    state = service_state("rest", 2, [task], {"t1": container("running")}, [])
    assert state.state.startswith("1/2 running")


class QuietUi:
    def note(self, text: str, *, plain: bool = False) -> None: ...
    def warn(self, text: str) -> None: ...
    def say(self, text: str, *, plain: bool = False) -> None: ...

    def waiting(self, services):
        return contextlib.nullcontext(lambda readiness, elapsed: None)


class Unplaceable:
    """An engine whose Ollama no node can take (the rest do not matter: up stops on it)."""

    def states(self) -> dict[str, ContainerState]:
        return {"ollama": ContainerState("ollama", "0/1 running, pending: " + REASON, "", "", [], error=REASON)}

    def logs_tail(self, service: str, lines: int = 30) -> str:
        return ""


def test_up_stops_on_an_unplaceable_task_with_one_line_naming_it(monkeypatch):
    monkeypatch.setattr(readiness, "UNPLACEABLE_SECONDS", 0.0)
    s = settings()
    with pytest.raises(StackError) as caught:
        wait_until_ready(s, Unplaceable(), None, 60, UpReport(settings=s, readiness={}), QuietUi())  # type: ignore[arg-type]
    assert str(caught.value) == "cannot place ollama: " + REASON
    assert "\n" not in str(caught.value)


def test_a_task_on_the_old_spec_does_not_count_until_the_update_rolled_out():
    """Right after `docker stack deploy` the old task still runs, healthy: without this the GPU
    placement test saw every service "ready" at 1.9 s, before Swarm had even begun the update."""
    task = {"ID": "t1", "Name": "s_ollama.1", "DesiredState": "Running", "CurrentState": "Running 1 minute ago"}
    state = service_state("ollama", 1, [task], {"t1": container("running", "healthy")}, [], stale={"t1"})
    assert state.state == "0/1 running, updating"


def test_swarm_implements_every_engine_operation_with_the_same_parameters():
    for name, signature in protocol_methods().items():
        implementation = getattr(Swarm, name, None)
        assert implementation is not None, f"Swarm lacks {name}"
        assert list(inspect.signature(implementation).parameters) == list(signature.parameters), name


def test_an_unknown_target_is_one_line_and_exit_2(project):
    result = run_start(project, "render", "--target", "kubernetes")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (project / ".env").exists()
