"""Real Docker failures become the typed errors callers branch on (no caller reads Docker's text)."""
from __future__ import annotations

import secrets

import pytest

from stack.engines import runner
from stack.engines.errors import CommandFailed, NetworkInUse, NoSuchObject
from tests.e2e.conftest import docker, image


def test_a_missing_volume_is_no_such_object_with_argv_code_and_stderr():
    argv = ["docker", "volume", "inspect", f"localai-errors-{secrets.token_hex(4)}"]
    with pytest.raises(NoSuchObject) as info:
        runner.run(argv, timeout=60)
    assert info.value.argv == argv and info.value.returncode == 1
    assert "no such volume" in info.value.stderr.lower()


def test_removing_a_network_in_use_is_network_in_use():
    """What `down` retries on: the engine still counts an endpoint on the project's network."""
    name = f"localai-errors-{secrets.token_hex(4)}"
    docker("network", "create", name)
    try:
        docker("run", "-d", "--name", name, "--network", name, "--entrypoint", "sleep", image("postgres"), "300")
        with pytest.raises(NetworkInUse) as info:
            runner.run(["docker", "network", "rm", name], timeout=60)
        assert isinstance(info.value, CommandFailed) and info.value.returncode == 1
        assert info.value.argv == ["docker", "network", "rm", name]
    finally:
        docker("rm", "-f", "-v", name, check=False)  # -v: the image's VOLUME, else an anonymous volume stays
        docker("network", "rm", name, check=False)
