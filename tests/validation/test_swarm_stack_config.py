"""This machine's real docker CLI accepts the Swarm stack file (`docker stack config` runs the
same loader as `docker stack deploy`, without a swarm), for every profile and both environments.
The untranslated compose file is refused by it (a depends_on mapping), which is why the
translation exists."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from stack.engines.swarm_stack import translate
from stack.render.files import COMPOSE_FILE, render_files
from tests.conftest import PUBLIC_ENV, REPO, append_env, copy_product, run_start
from tests.unit.test_swarm_render import program_of, settings


def stack_config(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "stack", "config", "--compose-file", str(path)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("profile,environment", [("cpu", "private"), ("gpu-nvidia", "public"),
                                                 ("gpu-amd", "private"), ("none", "public")])
def test_docker_stack_config_accepts_the_translation(tmp_path, profile, environment):
    extra = {**PUBLIC_ENV, "ENVIRONMENT": "public", "CADDY_TLS": "internal"} if environment == "public" else {}
    s = settings(PROFILE=profile, SUPABASE_SERVICES="full", **extra)
    compose = yaml.safe_load(render_files(s, REPO)[COMPOSE_FILE])
    plan = translate(compose, s.project, s.values, program_of, gpu=profile.startswith("gpu-"))
    (tmp_path / "stack.yml").write_text(yaml.safe_dump(plan.file, sort_keys=False, width=4096))
    result = stack_config(tmp_path / "stack.yml")
    assert result.returncode == 0, result.stderr
    (tmp_path / "compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False, width=4096))
    assert stack_config(tmp_path / "compose.yml").returncode != 0


def test_a_private_stack_on_swarm_is_refused_unless_all_interfaces_are_accepted(tmp_path):
    """Swarm has no 127.0.0.1-only published port, so private mode there would open every port
    (Postgres, Ollama) on the node's network: `up` refuses before it renders, deploys or writes."""
    project = copy_product(tmp_path / "stack")
    append_env(project, {"TARGET": "swarm", "ENVIRONMENT": "private"})
    before = (project / ".env").read_text()
    result = run_start(project, "up", timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "every interface" in errors[0] and "Traceback" not in result.stderr
    assert "SWARM_PRIVATE_ON_ALL_INTERFACES=true" in result.stderr
    assert (project / ".env").read_text() == before and not (project / "build").exists()
