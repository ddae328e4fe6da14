"""Profile none against an Ollama on the host network, as a user's own Ollama (the other commands
run on the one stack of test_operations.py)."""
from __future__ import annotations

import os
import time

import pytest
import requests

from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, assert_ok, docker, image, make_stack, port

HOST_OLLAMA_PORT = str(port(21452))


@pytest.fixture(scope="module")
def host_ollama():
    """The Ollama double on the host network, as a user's own Ollama with OLLAMA_HOST=0.0.0.0."""
    name = f"lase2e-host-ollama-{os.getpid()}"
    docker("run", "-d", "--rm", "--name", name, "--network", "host", "-e", f"OLLAMA_HOST=0.0.0.0:{HOST_OLLAMA_PORT}",
           image("ollama"))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{HOST_OLLAMA_PORT}/", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        yield f"http://host.docker.internal:{HOST_OLLAMA_PORT}"
    finally:
        docker("rm", "-f", name, check=False)


def test_profile_none_uses_the_ollama_on_the_host(tmp_path_factory, host_ollama):
    stack = make_stack(tmp_path_factory, "none", {**PRIVATE_PORTS, "OLLAMA_HOST_URL": host_ollama})
    try:
        result = stack.start("up", "--profile", "none", "--timeout", UP_TIMEOUT)
        assert_ok(result)
        assert "ollama" not in stack.containers()
        models = requests.get(f"http://127.0.0.1:{HOST_OLLAMA_PORT}/api/tags", timeout=10).json()["models"]
        assert {m["name"] for m in models} >= {"tinyllama:latest"}, models
        # the containers reach the host's Ollama by the name the stack gives them
        reply = stack.exec("open-webui", "curl", "-fsS", f"{host_ollama}/api/tags")
        assert "tinyllama" in reply
    finally:
        stack.destroy()
