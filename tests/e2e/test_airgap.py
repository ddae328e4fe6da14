"""Air-gapped sites, for real: `images push` fills Debian's docker-registry (tests/e2e/registry.py),
`up` with IMAGE_REGISTRY pulls every image through it; `images save` writes a bundle, the stack's
image tags are removed, the registry is stopped, `images load` brings them back and `up` starts
with no pull at all. Bad bundles are refused with one line and nothing loaded.

Configuration: profile cpu with the Ollama double, the core Supabase set, the shared test images
(localai-test/*:dev, never removed or retagged here: every tag this module makes is under its own
mirror prefix 127.0.0.1:<port>/airgap<hex>/ and removed at the end).

Facts relied on, each seen here on Docker Engine 20.10.24 with Compose 2.40.3 unless cited:
- `docker push` to 127.0.0.1:<port> speaks plain HTTP (tests/e2e/registry.py says why); the
  registry's /v2/_catalog lists each pushed repository (distribution v2.8.2 docs/spec/api.md, Listing
  Repositories).
- `up` with an image missing runs Compose `pull --policy missing`, which prints `<service> Pulled`
  for each service it pulled; with every image present `up` pulls nothing and prints no "Pulling"
  (stack/ops/pulls.py checks with `docker image inspect` first).
- `docker image rm <tag>` of an image that has another tag only removes that tag ("Untagged"), so
  removing the mirror tags never touches localai-test/*:dev (asserted below).
- `docker load` "restores both images and tags" (docker-image-load(1) of docker.io 20.10.21,
  manpages.ubuntu.com), keeping each image's id: `images load` checks the ids against the manifest.
Measured here (2 cores, other helpers' stacks running): the module 741 s; push of the 15 images
327 s, `up` through the mirror 74 s, save 139 s (bundle 6.6 GB), refused tampered load 14 s, load 35 s,
offline `up` 120 s.
"""
from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.config.mirror import mirror_ref
from tests.conftest import append_env, read_env_file
from tests.e2e.conftest import IMAGES, UP_TIMEOUT, Stack, assert_ok, docker, image, make_stack, port, ports
from tests.e2e.registry import Served, serving

REGISTRY_PORT = port(17500)
PORTS = ports({"WEBUI_PORT": "17300", "N8N_PORT": "17678", "SUPABASE_PORT": "17800", "OLLAMA_PORT": "17434",
               "SEARXNG_PORT": "17081", "POSTGRES_PORT": "17432", "CADDY_PORT": "17880"})
FULL_ONLY = {"SUPABASE_ANALYTICS_IMAGE", "SUPABASE_VECTOR_IMAGE", "SUPABASE_FUNCTIONS_IMAGE",
             "SUPABASE_POOLER_IMAGE"}
NEEDED = [key for key in IMAGES if key not in FULL_ONLY]  # profile cpu, Supabase core
TIMES: dict[str, float] = {}


def present(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def timed(name: str, stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    result = stack.start(*args, timeout=1800)
    TIMES[name] = time.monotonic() - start
    print(f"\n{name}: {TIMES[name]:.1f}s")
    return result


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    workdir = tmp_path_factory.mktemp("airgap-registry")
    prefix = f"airgap{secrets.token_hex(3)}"
    with serving(workdir, REGISTRY_PORT) as server:
        registry = f"{server.host}/{prefix}"
        try:
            yield server, registry
        finally:
            for key in IMAGES:
                docker("image", "rm", mirror_ref(registry, image(IMAGES[key])), check=False)
    shutil.rmtree(workdir / "data", ignore_errors=True)  # GBs of layers


@pytest.fixture(scope="module")
def air(tmp_path_factory: pytest.TempPathFactory, mirror: tuple[Served, str]) -> Iterator[Stack]:
    stack = make_stack(tmp_path_factory, "air", {**PORTS, "PROFILE": "cpu", "SUPABASE_SERVICES": "core"})
    try:
        yield stack
    finally:
        stack.destroy()
        print(f"\nairgap timings: {', '.join(f'{k} {v:.1f}s' for k, v in TIMES.items())}")


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("airgap-bundle") / "site.tar"
    yield path
    path.unlink(missing_ok=True)  # several GB


def test_push_refuses_a_missing_image_in_one_line_and_pushes_nothing(air, mirror):
    server, registry = mirror
    missing = f"localai-test/airgap-never-built-{secrets.token_hex(3)}:dev"
    append_env(air.root, {"CADDY_IMAGE": missing})
    try:
        result = air.start("images", "push", registry, timeout=300)
    finally:
        append_env(air.root, {"CADDY_IMAGE": image("caddy")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert errors(result) == [f"error: not on this machine: {missing} (CADDY_IMAGE); nothing was pushed"], \
        result.stderr
    assert server.catalog() == []


def test_push_then_up_pulls_every_image_through_the_mirror(air, mirror):
    server, registry = mirror
    result = timed("images push", air, "images", "push", registry)
    assert_ok(result)
    assert f"[{len(NEEDED)}/{len(NEEDED)}]" in result.stderr
    expected = {mirror_ref(registry, image(IMAGES[key])) for key in NEEDED}
    assert {f"{server.host}/{repo}" for repo in server.catalog()} == {ref.rsplit(":", 1)[0] for ref in expected}
    assert not any(present(ref) for ref in expected), "push left its mirror tags behind"
    # Pushed side by side, yet the layer most images share (the Debian base) is uploaded once: the
    # others wait for it and only link it (docker prints the short diff id of each layer it uploads).
    base_layer = json.loads(docker("image", "inspect", "--format", "{{json .RootFS.Layers}}",
                                   image("ollama")).stdout)[0]
    uploads = [line for line in result.stdout.splitlines() if f"{base_layer[7:19]}: Pushed" in line]
    assert len(uploads) == 1, uploads
    append_env(air.root, {"IMAGE_REGISTRY": registry})
    result = timed("up through the mirror", air, "up", "--timeout", UP_TIMEOUT)
    assert_ok(result)
    assert "Downloading the pinned images" in result.stderr
    running = air.containers()
    assert {c["Config"]["Image"] for c in running.values()} == expected
    for service, container in running.items():
        assert f" {service} Pulled" in result.stdout, result.stdout[-3000:]
        assert container["State"]["Running"] or container["State"]["ExitCode"] == 0, service


def test_save_writes_one_verified_bundle(air, bundle_path):
    result = timed("images save", air, "images", "save", str(bundle_path))
    assert_ok(result)
    assert bundle_path.is_file()
    assert [p.name for p in bundle_path.parent.iterdir()] == ["site.tar"], "save left temporary files"
    print(f"bundle size: {bundle_path.stat().st_size / 1e9:.2f} GB")


def _untag(registry: str) -> list[str]:
    refs = [mirror_ref(registry, image(IMAGES[key])) for key in NEEDED]
    for ref in refs:
        docker("image", "rm", ref)
    assert not any(present(ref) for ref in refs)
    assert all(present(image(IMAGES[key])) for key in NEEDED), "a shared localai-test image went away"
    return refs


def test_a_bundle_for_another_profile_or_tampered_is_refused_and_nothing_is_loaded(air, mirror, bundle_path):
    server, registry = mirror
    assert_ok(air.start("down", timeout=600))
    refs = _untag(registry)
    result = air.start("--profile", "none", "images", "load", str(bundle_path), timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert errors(result) == [f"error: {bundle_path}: the bundle is for PROFILE=cpu, not PROFILE=none "
                              "(save a bundle with PROFILE=none); nothing was loaded"], result.stderr
    assert not any(present(ref) for ref in refs)
    size = bundle_path.stat().st_size
    with bundle_path.open("r+b") as handle:  # one byte inside images.tar, the last member
        handle.seek(size // 2)
        original = handle.read(1)
        handle.seek(size // 2)
        handle.write(bytes([original[0] ^ 0xFF]))
    try:
        start = time.monotonic()
        result = air.start("images", "load", str(bundle_path), timeout=900)
        TIMES["refused tampered load"] = time.monotonic() - start
    finally:
        with bundle_path.open("r+b") as handle:
            handle.seek(size // 2)
            handle.write(original)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert errors(result) == [f"error: {bundle_path}: images.tar does not match its checksum: the bundle was "
                              "changed or damaged; nothing was loaded"], result.stderr
    assert not any(present(ref) for ref in refs)


def test_load_then_up_with_the_registry_stopped_pulls_nothing(air, mirror, bundle_path):
    server, registry = mirror
    refs = [mirror_ref(registry, image(IMAGES[key])) for key in NEEDED]
    assert not any(present(ref) for ref in refs)
    server.stop()
    assert read_env_file(air.root / ".env")["IMAGE_REGISTRY"] == registry
    result = timed("images load", air, "images", "load", str(bundle_path))
    assert_ok(result)
    assert all(present(ref) for ref in refs)
    result = timed("up offline", air, "up", "--timeout", UP_TIMEOUT)
    assert_ok(result)
    assert "Pulling" not in result.stdout + result.stderr
    assert "Downloading the pinned images" not in result.stderr
    running = air.containers()
    assert {c["Config"]["Image"] for c in running.values()} == set(refs)
    assert all(c["State"]["Running"] or c["State"]["ExitCode"] == 0 for c in running.values())
