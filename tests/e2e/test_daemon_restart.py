"""The stack comes back by itself after the Docker daemon restarts (restart policies, no start.py).

It restarts the one dockerd every test uses, so it runs alone: the `serial` marker keeps it out of
tests/run.sh's parallel pass, and the second pass runs it after everything else.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, assert_ok, docker, make_stack

pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    made = make_stack(tmp_path_factory, "daemon", PRIVATE_PORTS)
    try:
        assert_ok(made.start("up", "--timeout", UP_TIMEOUT))
        yield made
    finally:
        made.destroy()


DOCKERD_PID_FILE = "/tmp/localai-dockerd.pid"


def _our_dockerd() -> int:
    """The dockerd tests/setup_machine.sh started (its PID file); never another daemon."""
    try:
        pid = int(Path(DOCKERD_PID_FILE).read_text().strip())
    except (OSError, ValueError):
        pytest.fail(f"{DOCKERD_PID_FILE} is missing: this test restarts only the dockerd that "
                    "tests/setup_machine.sh started")
    with open(f"/proc/{pid}/comm") as comm:
        assert comm.read().strip() == "dockerd", f"PID {pid} in {DOCKERD_PID_FILE} is not dockerd"
    return pid


def _all_running_and_healthy(stack) -> bool:
    found = stack.containers()
    return bool(found) and all(c["State"]["Status"] == "running"
                               and c["State"].get("Health", {}).get("Status", "healthy") == "healthy"
                               for c in found.values())


def test_stack_comes_back_by_itself_after_docker_daemon_restart(stack):
    """Only the restart policy brings the containers back here: start.py is not run again."""
    stack.exec("db", "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-c",
                   "CREATE TABLE IF NOT EXISTS e2e_daemon (note text); INSERT INTO e2e_daemon VALUES ('kept');")
    pid = _our_dockerd()
    names_before = set(stack.containers())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.5)
    assert not os.path.exists(f"/proc/{pid}"), "dockerd did not stop"
    with open("/tmp/localai-dockerd.log", "ab") as log:
        daemon = subprocess.Popen(["dockerd"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  start_new_session=True)
    with open(DOCKERD_PID_FILE, "w") as pid_file:
        pid_file.write(f"{daemon.pid}\n")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and docker("info", check=False).returncode != 0:
        time.sleep(0.5)
    assert docker("info", check=False).returncode == 0, "dockerd did not come back"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not _all_running_and_healthy(stack):
        time.sleep(2)
    states = {s: (c["State"]["Status"], c["State"].get("Health", {}).get("Status"))
              for s, c in stack.containers().items()}
    assert set(states) == names_before
    assert _all_running_and_healthy(stack), f"not back by themselves: {states}"
    rows = stack.exec("db", "psql", "-U", "postgres", "-tAc", "SELECT note FROM e2e_daemon")
    assert rows.strip().splitlines()[-1] == "kept"
