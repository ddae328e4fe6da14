"""A real container registry on 127.0.0.1 for the e2e modules that pull (test_registry, test_airgap).

The registry is the CNCF distribution registry, Debian's `docker-registry` 2.8.2 (installed by
tests/setup_machine.sh), started here with its own config file; the package's service is never
used. Keys of that file: distribution/distribution v2.8.2 docs/configuration.md (`log.accesslog.
disabled` :70, `storage.filesystem.rootdirectory` :94, `storage.delete` :155, `http.addr` :216).
The Docker Engine talks plain HTTP to it because it treats 127.0.0.0/8 as an insecure registry by
default (moby registry/config.go, LoadInsecureRegistries appends "127.0.0.0/8"; `docker info` shows
it in RegistryConfig.InsecureRegistryCIDRs on engine 20.10.24): `serving` checks that.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import docker

READY_SECONDS = 20


@dataclass
class Served:
    host: str                       # 127.0.0.1:PORT
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def catalog(self) -> list[str]:
        with urllib.request.urlopen(f"http://{self.host}/v2/_catalog", timeout=10) as answer:
            return list(json.load(answer)["repositories"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_answers(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"docker-registry exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"docker-registry did not answer {url} within {READY_SECONDS}s: {log.read_text()[-2000:]}")


@contextmanager
def serving(workdir: Path, port: int | None = None) -> Iterator[Served]:
    """docker-registry on 127.0.0.1:`port` (a free one when None), storing under `workdir`; stopped on exit."""
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.fail("docker-registry is not installed: run tests/setup_machine.sh")
    cidrs = json.loads(docker("info", "--format", "{{json .RegistryConfig.InsecureRegistryCIDRs}}").stdout)
    assert "127.0.0.0/8" in cidrs, f"the engine does not allow plain HTTP to 127.0.0.1 registries: {cidrs}"
    port = port or free_port()
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    log = workdir / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    served = Served(host=f"127.0.0.1:{port}", proc=proc, log=log)
    try:
        wait_answers(f"http://{served.host}/v2/", proc, log)
        yield served
    finally:
        served.stop()
