"""End-to-end fixtures: the real stack (start.py itself) on the real Docker Engine, with the
locally built test images supplied through the *_IMAGE settings."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import PUBLIC_ENV, REPO, append_env, copy_product, run_start

IMAGES = {
    "OLLAMA_IMAGE": "ollama",
    "OPEN_WEBUI_IMAGE": "open-webui",
    "N8N_IMAGE": "n8n",
    "N8N_RUNNERS_IMAGE": "n8n-runners",
    "SEARXNG_IMAGE": "searxng",
    "CADDY_IMAGE": "caddy",
    "SUPABASE_DB_IMAGE": "postgres",
    "SUPABASE_KONG_IMAGE": "supabase-kong",
    "SUPABASE_AUTH_IMAGE": "supabase-auth",
    "SUPABASE_REST_IMAGE": "supabase-rest",
    "SUPABASE_REALTIME_IMAGE": "supabase-realtime",
    "SUPABASE_STORAGE_IMAGE": "supabase-storage",
    "SUPABASE_IMGPROXY_IMAGE": "supabase-imgproxy",
    "SUPABASE_META_IMAGE": "supabase-meta",
    "SUPABASE_STUDIO_IMAGE": "supabase-studio",
    "SUPABASE_ANALYTICS_IMAGE": "supabase-analytics",
    "SUPABASE_VECTOR_IMAGE": "supabase-vector",
    "SUPABASE_FUNCTIONS_IMAGE": "supabase-functions",
    "SUPABASE_POOLER_IMAGE": "supabase-pooler",
}
# tests/run.sh runs the suite on parallel pytest-xdist workers (gw0, gw1, ...). Every host port a test
# module fixes goes through port(): each worker adds 100 per worker number, so the stacks of two workers
# never share a port (the fixed sets sit in 1xxxx and 2xxxx, no two less than 100 apart in a clash).
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
# Linux hands out local ports from 32768 up (net.ipv4.ip_local_port_range) to every outgoing
# connection, the tests' own among them: a fixed port up there is taken now and then, and `up`
# rightly refuses it (CI saw "port 38000 (SUPABASE_PORT) is already in use by another program").
EPHEMERAL_FROM = 32768


def port(number: int | str) -> int:
    shifted = int(number) + 100 * WORKER
    if shifted >= EPHEMERAL_FROM:
        raise ValueError(f"test port {shifted} is in the ephemeral range (>= {EPHEMERAL_FROM}): pick one below")
    return shifted


def ports(values: dict[str, str]) -> dict[str, str]:
    """A module's host ports for this worker (see port())."""
    return {key: str(port(value)) for key, value in values.items()}


PRIVATE_PORTS = ports({"WEBUI_PORT": "23000", "N8N_PORT": "25678", "SUPABASE_PORT": "28000", "OLLAMA_PORT": "21434",
                       "SEARXNG_PORT": "28081", "POSTGRES_PORT": "25432", "CADDY_PORT": "28880"})
# The mutation runner shortens it: a planted never-healthy service should fail fast there.
UP_TIMEOUT = os.environ.get("LOCALAI_E2E_UP_TIMEOUT", "600")


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    """A start.py run succeeded; if not, show the tail of what it printed."""
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the marker must be there when it looks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e/ carries the e2e marker: `-m "not e2e"` runs the rest alone. (The
    modules on the shared stacks are put last by tests/conftest.py, after pytest's own ordering.)"""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


# Public-mode stacks publish 80 and 443 on every interface: on parallel workers (tests/run.sh runs
# --dist loadfile, a module per worker) two of them would collide, so each holds this lock while it
# exists, and another waits for it.
PUBLIC_PORTS_LOCK = Path(tempfile.gettempdir()) / "localai-e2e-public-ports.lock"


@contextlib.contextmanager
def public_ports() -> Iterator[None]:
    with open(PUBLIC_PORTS_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def image(name: str) -> str:
    return f"localai-test/{name}:dev"


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr}")
    return result


def containers(project: str) -> dict[str, dict]:
    """service name -> `docker inspect` of its container, read from the engine."""
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout.split()
    if not ids:
        return {}
    data = json.loads(docker("inspect", *ids).stdout)
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in data}


def exec_in(project: str, service: str, *cmd: str, user: str | None = None) -> str:
    cid = containers(project)[service]["Id"]
    args = ["exec"] + (["-u", user] if user else []) + [cid, *cmd]
    return docker(*args).stdout


@pytest.fixture(scope="session", autouse=True)
def test_images() -> None:
    """The images are built by tests/setup_machine.sh; build any that are missing (cached)."""
    if docker("info", check=False).returncode != 0:
        pytest.fail("Docker Engine is not answering: run `bash tests/run.sh`, which sets it up")
    if os.environ.get("LOCALAI_E2E_BUILD") == "0":
        return  # a developer run on a shared engine: use the images as they are
    # every xdist worker runs this; build.py holds its own exclusive lock, so the first builds and the
    # others then find everything cached
    subprocess.run([sys.executable, str(REPO / "tests" / "images" / "build.py")], check=True, timeout=3000)


class Stack:
    """A project directory with its own compose project name, driven through start.py."""

    def __init__(self, root: Path, project: str) -> None:
        self.root = root
        self.project = project
        self.up_output = ""  # what a shared stack's first `up` printed
        self.at_ready: dict[str, requests.Response] = {}

    def start(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return run_start(self.root, *args, timeout=timeout)

    def containers(self) -> dict[str, dict]:
        return containers(self.project)

    def exec(self, service: str, *cmd: str, user: str | None = None) -> str:
        return exec_in(self.project, service, *cmd, user=user)

    def destroy(self) -> None:
        if (self.root / ".env").exists():
            self.start("down", "--volumes", "--yes", timeout=600)
        for cid in docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}").stdout.split():
            docker("rm", "-f", "-v", cid, check=False)
        for vol in docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={self.project}"
                          ).stdout.split():
            docker("volume", "rm", "-f", vol, check=False)


def make_stack(tmp_path_factory: pytest.TempPathFactory, name: str, extra: dict[str, str]) -> Stack:
    project = f"lase2e{name}{secrets.token_hex(2)}"
    root = copy_product(tmp_path_factory.mktemp(name) / "stack")
    values = {key: image(img) for key, img in IMAGES.items()}
    values.update(PROJECT_NAME=project, OLLAMA_MODELS="tinyllama:latest,nomic-embed-text", **extra)
    append_env(root, values)
    return Stack(root, project)


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory):
    stack = make_stack(tmp_path_factory, "priv", PRIVATE_PORTS)
    try:
        yield stack
    finally:
        stack.destroy()


# One default private stack (`up --profile cpu`), started once per session and shared by the modules
# that only read it, or change it and put it back (test_browser's private site, test_n8n_real,
# test_n8n_stack, test_supabase_gateway, test_webui_real, test_webui_setup): every full `up` costs a
# minute or two of the 2-core CI machine. Its ports are its own, so it can run beside any other stack.
SHARED_PORTS = ports({"WEBUI_PORT": "23007", "N8N_PORT": "25697", "SUPABASE_PORT": "28007", "OLLAMA_PORT": "21447",
                      "SEARXNG_PORT": "28097", "POSTGRES_PORT": "25447", "CADDY_PORT": "28897"})
# What must answer the very moment `up` returns (n8n's editor and REST API: test_n8n_real).
AT_READY = {"n8n": (f"http://127.0.0.1:{SHARED_PORTS['N8N_PORT']}", ("/rest/settings", "/", "/signin"))}


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory):
    """The shared private stack, up. `up_output` is what its first `up` printed, `at_ready` what
    AT_READY's pages answered right after it returned (before any test ran)."""
    stack = make_stack(tmp_path_factory, "shared", SHARED_PORTS)
    try:
        result = stack.start("up", "--profile", "cpu", "--timeout", UP_TIMEOUT)
        if result.returncode == 0:  # at once: what `up` promised must hold now, not a few seconds later
            base, paths = AT_READY["n8n"]
            stack.at_ready = {path: requests.get(base + path, timeout=10) for path in paths}
        stack.up_output = result.stdout + result.stderr
        assert_ok(result)
        yield stack
    finally:
        stack.destroy()


PUBLIC_HOSTS = {"WEBUI_HOSTNAME": "chat.e2e.test", "N8N_HOSTNAME": "n8n.e2e.test",
                "SUPABASE_HOSTNAME": "supabase.e2e.test", "OLLAMA_HOSTNAME": "ollama.e2e.test"}


@pytest.fixture(scope="session")
def public_stack(tmp_path_factory: pytest.TempPathFactory):
    """One public stack (Caddy on 80/443, `tls internal`), up, shared by test_public_stack and
    test_browser's public site; `up_output` is what its `up` printed. It holds the 80/443 lock
    while it exists."""
    extra = {**PUBLIC_ENV, **PUBLIC_HOSTS, "CADDY_TLS": "internal", "ENVIRONMENT": "public"}
    with public_ports():
        stack = make_stack(tmp_path_factory, "pub", extra)
        try:
            result = stack.start("up", "--profile", "cpu", "--environment", "public", "--timeout", UP_TIMEOUT)
            stack.up_output = result.stdout + result.stderr
            assert_ok(result)
            yield stack
        finally:
            stack.destroy()
