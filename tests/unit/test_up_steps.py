"""`up` is an explicit step list whose order is the contract (issue 12, finding 5): these are the
orderings that keep data safe and failures early. A reorder that breaks one fails here."""
from __future__ import annotations

from stack.health import Readiness
from stack.ops import up
from stack.ops.readiness import not_ready_error

NAMES = [step.name for step in up.STEPS]


def before(first: str, then: str) -> bool:
    return NAMES.index(first) < NAMES.index(then)


def test_every_step_is_named_once_and_documented():
    assert len(NAMES) == len(set(NAMES))
    for name in NAMES:
        assert f" {name} " in up.__doc__, f"step {name} is not in the module's stated order"


def test_nothing_starts_before_the_checks_that_refuse_early():
    for check in ("docker", "render", "database", "ports", "images", "postgres"):
        assert before(check, "start"), check
    assert NAMES[0] == "docker"  # before anything is written


def test_after_ready_steps_run_once_everything_answers():
    assert before("start", "ready")
    for later in ("record", "keys", "n8n", "webui", "models"):
        assert before("ready", later), later


class _Logs:
    def logs_tail(self, service: str, lines: int = 30) -> str:
        return f"(log of {service})"


def test_services_never_created_are_named_as_waiting_whatever_their_detail_says():
    readiness = {"db": Readiness("db", False, "container unhealthy"),
                 "kong": Readiness("kong", False, "reworded: no container"),
                 "ollama": Readiness("ollama", True, "ready")}
    err = not_ready_error(_Logs(), readiness, created={"db", "ollama"}, timeout=60)  # type: ignore[arg-type]
    assert str(err) == "not ready after 60s: db (container unhealthy); not started yet, waiting on those: kong"
    assert "(log of db)" in err.stderr and "kong" not in err.stderr
