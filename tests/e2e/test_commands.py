"""Commands no other e2e test runs: plain `start.py`, restart, models pull/rm, supabase keys,
every rotatable secret end to end, and profile none against an Ollama on the host network."""
from __future__ import annotations

import os
import subprocess
import time

import jwt
import pytest
import requests

from stack.config.secrets import ROTATABLE
from tests.conftest import read_env_file
from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, assert_ok, docker, image, make_stack, port

HOST_OLLAMA_PORT = str(port(21452))
# Rotations that need the full Supabase set (analytics) or public mode (Caddy basic auth):
# covered in test_public_stack.py / by SUPABASE_SERVICES=full below.
PRIVATE_CORE_ROTATIONS = sorted(set(ROTATABLE) - {"LOGFLARE_PUBLIC_ACCESS_TOKEN", "LOGFLARE_PRIVATE_ACCESS_TOKEN",
                                                 "CADDY_BASIC_AUTH_PASSWORD"})


@pytest.fixture(scope="module")
def cmd_stack(tmp_path_factory):
    made = make_stack(tmp_path_factory, "cmd", PRIVATE_PORTS)
    try:
        yield made
    finally:
        made.destroy()


def _env(stack) -> dict[str, str]:
    return read_env_file(stack.root / ".env")


def _psql_tcp(stack, user: str, password: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
    """A password login over TCP from outside the container (the published port)."""
    cid = stack.containers()["db"]["Id"]
    return subprocess.run(["docker", "exec", "-e", "PGPASSWORD", cid, "psql", "-h", "db", "-U", user, "-d",
                           database, "-tAc", "SELECT current_user"],
                          env={**os.environ, "PGPASSWORD": password}, capture_output=True, text=True, timeout=60)


def test_plain_start_py_brings_the_stack_up(cmd_stack):
    result = cmd_stack.start(timeout=900)
    assert_ok(result)
    assert "Local AI Stack is ready" in result.stdout


def test_restart_one_service_restarts_only_it(cmd_stack):
    before = {s: c["State"]["StartedAt"] for s, c in cmd_stack.containers().items()}
    assert_ok(cmd_stack.start("restart", "searxng"))
    after = {s: c["State"]["StartedAt"] for s, c in cmd_stack.containers().items()}
    assert after["searxng"] != before["searxng"]
    assert {s: t for s, t in after.items() if s != "searxng"} == {s: t for s, t in before.items() if s != "searxng"}


def test_models_pull_then_rm(cmd_stack):
    result = cmd_stack.start("models", "pull", "all-minilm")
    assert_ok(result)
    assert "all-minilm: pulled" in result.stdout
    assert "all-minilm" in cmd_stack.start("models", "list").stdout
    result = cmd_stack.start("models", "rm", "all-minilm")
    assert_ok(result)
    assert "all-minilm: removed" in result.stdout
    assert "all-minilm" not in cmd_stack.start("models", "list").stdout


def test_supabase_keys_prints_keys_signed_with_the_secret(cmd_stack):
    result = cmd_stack.start("supabase", "keys")
    assert_ok(result)
    printed = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    secret = _env(cmd_stack)["JWT_SECRET"]
    assert printed["SUPABASE_URL"] == f"http://127.0.0.1:{PRIVATE_PORTS['SUPABASE_PORT']}"
    assert jwt.decode(printed["SUPABASE_ANON_KEY"], secret, algorithms=["HS256"])["role"] == "anon"
    assert jwt.decode(printed["SUPABASE_SERVICE_ROLE_KEY"], secret, algorithms=["HS256"])["role"] == "service_role"


@pytest.mark.parametrize("key", PRIVATE_CORE_ROTATIONS)
def test_every_rotatable_secret_rotates_and_the_stack_keeps_working(cmd_stack, key):
    old = _env(cmd_stack)
    result = cmd_stack.start("secrets", "rotate", key, "--yes", timeout=1200)
    assert_ok(result)
    new = _env(cmd_stack)
    assert new[key] != old[key]
    assert old[key] not in result.stdout + result.stderr
    states = cmd_stack.containers()
    assert all(c["State"]["Status"] == "running" for c in states.values()), {s: c["State"]["Status"]
                                                                           for s, c in states.items()}
    assert_ok(cmd_stack.start("supabase", "check"))
    if key == "JWT_SECRET":
        url = f"http://127.0.0.1:{PRIVATE_PORTS['SUPABASE_PORT']}/rest/v1/rpc/localai_whoami"

        def whoami(key: str) -> requests.Response:
            return requests.post(url, json={}, timeout=10, headers={"apikey": key, "Authorization": f"Bearer {key}"})

        assert whoami(old["ANON_KEY"]).status_code == 401
        answer = whoami(new["ANON_KEY"])
        assert answer.status_code == 200 and answer.json() == "anon", answer.text
    if key == "POSTGRES_PASSWORD":
        assert _psql_tcp(cmd_stack, "supabase_admin", new[key]).returncode == 0
        assert _psql_tcp(cmd_stack, "supabase_admin", old[key]).returncode != 0
    if key == "N8N_DB_PASSWORD":
        assert _psql_tcp(cmd_stack, "n8n", new[key], "n8n").returncode == 0
        assert _psql_tcp(cmd_stack, "n8n", old[key], "n8n").returncode != 0
    if key == "DASHBOARD_PASSWORD":
        url = f"http://127.0.0.1:{PRIVATE_PORTS['SUPABASE_PORT']}/"
        user = new["DASHBOARD_USERNAME"]
        assert requests.get(url, auth=(user, old[key]), timeout=10).status_code == 401
        assert requests.get(url, auth=(user, new[key]), timeout=10, allow_redirects=False).status_code < 400


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
    # its own ports: the module's other stack is still running
    ports = {key: str(int(value) + 2) for key, value in PRIVATE_PORTS.items()}
    stack = make_stack(tmp_path_factory, "none", {**ports, "OLLAMA_HOST_URL": host_ollama})
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
