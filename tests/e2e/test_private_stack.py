"""The whole stack in private mode, started by start.py on the real engine (tests run in order)."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import time

import requests

from tests.e2e.conftest import UP_TIMEOUT, docker

MARKERS = {  # service -> a directory on one of its named volumes
    "ollama": "/root/.ollama",
    "open-webui": "/app/backend/data",
    "n8n": "/home/node/.n8n",
    "searxng": "/var/cache/searxng",
    "storage": "/var/lib/storage",
    "caddy": "/data",
}


def test_up_brings_every_service_to_ready(private_stack):
    result = private_stack.start("up", "--profile", "cpu", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Local AI Stack is ready" in result.stdout
    states = private_stack.containers()
    for service in ("ollama", "open-webui", "n8n", "searxng", "caddy", "db", "kong", "auth", "rest",
                    "realtime", "storage", "imgproxy", "meta", "studio"):
        state = states[service]["State"]
        assert state["Status"] == "running", service
        assert state.get("Health", {}).get("Status", "healthy") == "healthy", service
    private_stack.up_output = result.stdout


def test_each_printed_url_answers(private_stack):
    output = private_stack.start("up", "--timeout", UP_TIMEOUT).stdout
    urls = sorted(set(re.findall(r"http://127\.0\.0\.1:\d+", output)))
    assert len(urls) >= 5, output
    for url in urls:
        response = requests.get(url + "/", timeout=10)
        assert response.status_code < 500, (url, response.status_code)
    match = re.search(r"postgresql://postgres@127\.0\.0\.1:(\d+)/", output)
    assert match, output
    with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=5):
        pass
    assert "webui.localhost" in output


def test_private_publishes_only_on_loopback_as_the_engine_sees_it(private_stack):
    published = 0
    for service, info in private_stack.containers().items():
        for bindings in (info["NetworkSettings"]["Ports"] or {}).values():
            for binding in bindings or []:
                published += 1
                assert binding["HostIp"] == "127.0.0.1", (service, binding)
    assert published >= 7


def test_second_up_recreates_nothing(private_stack):
    before = {s: (c["Id"], c["State"]["StartedAt"]) for s, c in private_stack.containers().items()}
    started = time.monotonic()
    result = private_stack.start("up", "--timeout", UP_TIMEOUT)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    after = {s: (c["Id"], c["State"]["StartedAt"]) for s, c in private_stack.containers().items()}
    assert after == before
    assert elapsed < 60, f"a warm re-run took {elapsed:.0f}s"


def _pull_log(stack) -> list[str]:
    text = stack.exec("ollama", "sh", "-c", "cat /root/.ollama/double-pulls.log 2>/dev/null || true")
    return [str(json.loads(line).get("model") or json.loads(line).get("name")) for line in text.splitlines()
            if line.strip()]


def test_missing_models_were_pulled_exactly_once(private_stack):
    pulled = _pull_log(private_stack)
    assert sorted(pulled) == ["nomic-embed-text", "tinyllama:latest"], pulled
    result = private_stack.start("up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert _pull_log(private_stack) == pulled, "a second up must pull nothing"
    listed = private_stack.start("models", "list")
    assert "tinyllama:latest" in listed.stdout and "nomic-embed-text" in listed.stdout


def test_failed_pull_names_the_model_and_the_reason(private_stack):
    result = private_stack.start("models", "pull", "missing-model:7b")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors and "missing-model:7b" in errors[0] and "does not exist" in errors[0], result.stderr


def test_killed_process_is_restarted_by_the_engine(private_stack):
    info = private_stack.containers()["searxng"]
    restarts = info["RestartCount"]
    os.kill(info["State"]["Pid"], signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = private_stack.containers()["searxng"]
        healthy = info["State"].get("Health", {}).get("Status") == "healthy"
        if info["RestartCount"] > restarts and info["State"]["Running"] and healthy:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"searxng was not restarted: {info['State']}")


def test_data_survives_down_and_up(private_stack):
    private_stack.exec("db", "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-c",
                       "CREATE TABLE e2e_keep (note text); INSERT INTO e2e_keep VALUES ('still here');")
    for service, directory in MARKERS.items():
        private_stack.exec(service, "sh", "-c", f"echo kept-{service} > {directory}/.e2e-marker")

    assert private_stack.start("down").returncode == 0
    assert private_stack.containers() == {}
    result = private_stack.start("up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stderr

    rows = private_stack.exec("db", "psql", "-U", "postgres", "-tAc", "SELECT note FROM e2e_keep")
    assert rows.strip() == "still here"
    for service, directory in MARKERS.items():
        assert private_stack.exec(service, "cat", f"{directory}/.e2e-marker").strip() == f"kept-{service}"


def test_down_then_status_reports_stopped(private_stack):
    assert private_stack.start("down").returncode == 0
    result = private_stack.start("status")
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout
    volumes = docker("volume", "ls", "-q", "--filter",
                     f"label=com.docker.compose.project={private_stack.project}").stdout.split()
    assert len(volumes) >= 8, "down must keep the data volumes"
