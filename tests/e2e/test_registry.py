"""`up` and `update` against a real container registry, so Compose's pull path runs for real.

The registry (Debian's `docker-registry` on 127.0.0.1, and the facts it relies on) is started by
tests/e2e/registry.py, shared with test_airgap.

A few small images (the Ollama and SearXNG doubles, the Caddy image) are served from the registry,
each with one layer of its own (1 MiB of random bytes) so a pull really downloads something; the
others stay the local test images. Facts about Compose 2.40.3's pull output when it is not on a
terminal, seen here: one line `<service> Pulling`, per layer `<id> Pulling fs layer`, `Downloading
[...]`, `Pull complete`, then `<service> Pulled`; a tag the registry lacks gives `<service> Error
manifest for <ref> not found: manifest unknown: manifest unknown` and exit 1.

Measured here: about 100 s for the module (the first push uploads the shared base layer, ~25 s).
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import append_env
from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, Stack, assert_ok, containers, docker, image, make_stack
from tests.e2e.registry import serving

# setting -> (test image under tests/images/, compose service)
SERVED = {"OLLAMA_IMAGE": ("ollama", "ollama"), "SEARXNG_IMAGE": ("searxng", "searxng"),
          "CADDY_IMAGE": ("caddy", "caddy")}
LAYER_BYTES = 1 << 20


@dataclass
class Registry:
    host: str                      # 127.0.0.1:PORT
    workdir: Path
    created: list[str] = field(default_factory=list)  # every tag this module made, removed at the end

    def ref(self, name: str, tag: str) -> str:
        return f"{self.host}/localai/{name}:{tag}"

    def publish(self, name: str, tag: str) -> str:
        """Push localai-test/<name>:dev plus one layer of its own as <registry>/localai/<name>:<tag>,
        then drop the local tag: the engine must fetch it from the registry."""
        ref = self.ref(name, tag)
        context = self.workdir / f"build-{name}-{tag}"
        context.mkdir()
        (context / "layer.bin").write_bytes(os.urandom(LAYER_BYTES))
        (context / "Dockerfile").write_text(f"FROM {image(name)}\nCOPY layer.bin /registry-test-layer.bin\n")
        self.created.append(ref)
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # Debian's docker.io has no buildx
        built = subprocess.run(["docker", "build", "-q", "-t", ref, str(context)], capture_output=True, text=True,
                               env=env, timeout=300)
        assert built.returncode == 0, built.stderr
        docker("push", ref, timeout=900)
        docker("rmi", ref)
        assert not present(ref)
        return ref

    def remove_local(self) -> None:
        for ref in self.created:
            docker("rmi", ref, check=False)


def present(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    workdir = tmp_path_factory.mktemp("registry")
    with serving(workdir) as server:
        reg = Registry(host=server.host, workdir=workdir)
        try:
            yield reg
        finally:
            reg.remove_local()


@pytest.fixture(scope="module")
def served(registry: Registry) -> dict[str, str]:
    """setting -> registry reference of the first tag, pushed once for the module."""
    return {key: registry.publish(name, "t1") for key, (name, _) in SERVED.items()}


@pytest.fixture(scope="module")
def reg_stack(tmp_path_factory: pytest.TempPathFactory, served: dict[str, str]) -> Iterator[Stack]:
    stack = make_stack(tmp_path_factory, "reg", {**PRIVATE_PORTS, **served})
    try:
        yield stack
    finally:
        stack.destroy()


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def identity(stack: Stack) -> dict[str, tuple[str, str]]:
    return {name: (c["Id"], c["State"]["StartedAt"]) for name, c in stack.containers().items()}


def test_a_missing_tag_is_named_in_one_line_and_nothing_starts(tmp_path_factory, registry):
    missing = registry.ref("ollama", "never-pushed")
    ports = {key: str(int(value) + 1) for key, value in PRIVATE_PORTS.items()}  # free while reg_stack runs
    stack = make_stack(tmp_path_factory, "regmiss", {**ports, "OLLAMA_IMAGE": missing})
    try:
        result = stack.start("up", "--timeout", UP_TIMEOUT)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output[-3000:]
        assert "Traceback" not in output
        errors = error_lines(result)
        assert len(errors) == 1, result.stderr[-3000:]
        assert missing in errors[0] and "OLLAMA_IMAGE" in errors[0] and "not found" in errors[0], errors
        assert containers(stack.project) == {}, "a service was started although an image is missing"
    finally:
        stack.destroy()


def test_up_pulls_the_missing_images_from_the_registry_with_progress(reg_stack, served):
    assert not any(present(ref) for ref in served.values())
    result = reg_stack.start("up", "--timeout", UP_TIMEOUT)
    assert_ok(result)
    assert "Downloading the pinned images" in result.stderr
    for _, service in SERVED.values():
        assert f" {service} Pulling" in result.stdout and f" {service} Pulled" in result.stdout, result.stdout[-3000:]
    assert result.stdout.count("Pull complete") >= len(SERVED), result.stdout[-3000:]  # each image's own layer
    assert "Downloading [" in result.stdout
    running = reg_stack.containers()
    for key, (_, service) in SERVED.items():
        assert running[service]["Config"]["Image"] == served[key]
        assert running[service]["State"]["Running"]


def test_update_with_a_missing_tag_names_it_and_changes_nothing(reg_stack, registry, served):
    before = identity(reg_stack)
    missing = registry.ref("ollama", "never-pushed")
    append_env(reg_stack.root, {"OLLAMA_IMAGE": missing})
    try:
        result = reg_stack.start("update", "--timeout", UP_TIMEOUT)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output[-3000:]
        assert "Traceback" not in output
        errors = error_lines(result)
        assert len(errors) == 1 and missing in errors[0] and "OLLAMA_IMAGE" in errors[0], result.stderr[-3000:]
        assert not list((reg_stack.root / "backups").glob("*.tar")), "a backup was taken before the pull failed"
        assert identity(reg_stack) == before
    finally:
        append_env(reg_stack.root, {"OLLAMA_IMAGE": served["OLLAMA_IMAGE"]})


def test_update_pulls_a_new_tag_and_recreates_only_that_service(reg_stack, registry):
    before = identity(reg_stack)
    new = registry.publish("ollama", "t2")
    append_env(reg_stack.root, {"OLLAMA_IMAGE": new})
    result = reg_stack.start("update", "--timeout", UP_TIMEOUT)
    assert_ok(result)
    assert " ollama Pulling" in result.stdout and "Pull complete" in result.stdout, result.stdout[-3000:]
    after = reg_stack.containers()
    assert after["ollama"]["Config"]["Image"] == new
    assert after["ollama"]["Id"] != before["ollama"][0]
    unchanged = {name: ident for name, ident in before.items() if name != "ollama"}
    assert {name: (c["Id"], c["State"]["StartedAt"]) for name, c in after.items() if name != "ollama"} == unchanged
