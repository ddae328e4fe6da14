"""The Swarm stack file made from the SAME rendered compose file: what Swarm needs added, what the
docker CLI's stack loader rejects dropped, and every secret a Docker secret (VAR_FILE where the
program reads one, else the wrapper entrypoint, whose script is run here for real with /bin/sh).

Facts about the programs' `_FILE` variables: tests/records/swarm-secrets.md.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from stack.config.schema import SECRET_KEYS
from stack.config.secrets import fill_missing
from stack.config.settings import Settings, build
from stack.config.store import prepare
from stack.engines import swarm_secrets as ss
from stack.engines.swarm_stack import DATA_LABEL, GPU_LABEL, translate
from stack.render.files import COMPOSE_FILE, render_files
from tests.conftest import REPO

PROGRAMS = {"default": (["/entrypoint.sh"], ["serve", "--port", "$PORT"])}


def settings(**values: str) -> Settings:
    base = build(REPO, {"OLLAMA_CONTEXT_LENGTH": "8192", **values}, {})
    return Settings(root=REPO, values={**base.values, **fill_missing(base.values)})


def program_of(image: str) -> tuple[list[str], list[str]]:
    return PROGRAMS["default"]


def plan_for(s: Settings, gpu: bool = False):
    compose = yaml.safe_load(render_files(s, REPO)[COMPOSE_FILE])
    plan = translate(compose, s.project, s.values, program_of, gpu=gpu)
    plan.settings = s  # type: ignore[attr-defined]
    return compose, plan


@pytest.fixture(scope="module")
def private():
    return plan_for(settings())


def test_every_service_gets_restart_policy_dnsrr_and_an_update_order(private):
    compose, plan = private
    assert set(plan.file["services"]) == set(compose["services"])
    for name, spec in plan.file["services"].items():
        deploy = spec["deploy"]
        assert deploy["restart_policy"]["condition"] == "any", name
        assert deploy["endpoint_mode"] == "dnsrr", name
        stateless = not compose["services"][name].get("volumes") and not compose["services"][name].get("ports")
        assert deploy["update_config"]["order"] == ("start-first" if stateless else "stop-first"), name
        for dropped in ("restart", "depends_on"):
            assert dropped not in spec, (name, dropped)
    assert plan.file["services"]["db"]["deploy"]["update_config"]["order"] == "stop-first"
    assert plan.file["services"]["meta"]["deploy"]["update_config"]["order"] == "start-first"
    assert "name" not in plan.file


def test_stateful_services_and_caddy_are_pinned_to_the_data_node_and_ollama_to_a_gpu_node():
    _, cpu = plan_for(settings())
    for name in ("db", "caddy", "n8n", "open-webui", "ollama", "storage"):
        assert cpu.file["services"][name]["deploy"]["placement"]["constraints"] == [f"node.labels.{DATA_LABEL} == true"]
    assert "placement" not in cpu.file["services"]["meta"]["deploy"]
    _, gpu = plan_for(settings(PROFILE="gpu-nvidia", OLLAMA_GPU_COUNT="1"), gpu=True)
    ollama = gpu.file["services"]["ollama"]["deploy"]
    assert ollama["placement"]["constraints"] == [f"node.labels.{GPU_LABEL} == true"]
    assert "resources" not in ollama  # Compose's device reservation: Swarm services take no devices


def test_ports_are_published_in_host_mode_with_their_numbers(private):
    compose, plan = private
    webui = plan.file["services"]["open-webui"]["ports"]
    assert webui == [{"target": 8080, "published": 3000, "protocol": "tcp", "mode": "host"}]
    assert compose["services"]["open-webui"]["ports"] == ["127.0.0.1:3000:8080"]


def test_networks_are_overlays_and_the_runners_network_stays_internal(private):
    _, plan = private
    assert plan.file["networks"]["default"]["driver"] == "overlay"
    assert plan.file["networks"]["n8n-runners"] == {"internal": True, "driver": "overlay"}


def test_no_secret_value_and_no_interpolation_left_in_the_stack_file(private):
    _, plan = private
    text = yaml.safe_dump(plan.file)
    s = plan.settings
    for key in SECRET_KEYS:
        value = s.values.get(key, "")
        if len(value) >= 8:
            assert value not in text, key
    assert "${" not in text.replace("$${", "")
    assert set(plan.secrets.values()) >= {s["POSTGRES_PASSWORD"], s["N8N_ENCRYPTION_KEY"]}


def test_programs_with_a_file_variable_read_it_and_n8n_needs_no_wrapper(private):
    _, plan = private
    n8n = plan.file["services"]["n8n"]
    for var in ss.FILE_VARS["n8n"]:
        assert var not in n8n["environment"]
    assert n8n["environment"]["N8N_ENCRYPTION_KEY_FILE"] == "/run/secrets/N8N_ENCRYPTION_KEY"
    assert plan.file["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/POSTGRES_PASSWORD"
    # n8n's owner hash is ours (decoded by our entrypoint), so n8n still gets the wrapper for that one
    assert "N8N_OWNER_PASSWORD_HASH_B64" in n8n["entrypoint"][2]
    assert {"auth", "rest", "studio", "open-webui", "kong"} <= set(plan.wrapped)
    assert "ollama" not in plan.wrapped and "imgproxy" not in plan.wrapped


def test_secret_names_follow_the_value_so_a_rotation_makes_a_new_secret():
    a = ss.secret_name("s", "JWT_SECRET", "one")
    assert a == ss.secret_name("s", "JWT_SECRET", "one")
    assert a != ss.secret_name("s", "JWT_SECRET", "two")
    assert a.startswith("s_jwt_secret_") and len(a) <= 64


def test_the_wrapper_exports_the_files_to_the_program_only(tmp_path: Path):
    """Run the wrapper script for real: the program sees the values rebuilt from the files, with
    the service's own command after it (its `$` kept literal)."""
    (tmp_path / "POSTGRES_PASSWORD").write_text("s3cr3t'x")
    entry = ss.wrapper({"PGRST_DB_URI": "postgres://authenticator:${POSTGRES_PASSWORD}@db:5432/postgres",
                        "PLAIN": "${POSTGRES_PASSWORD}"}, ["/bin/sh", "-c", "echo $$PGRST_DB_URI $$PLAIN"])
    unescaped = [arg.replace("$$", "$").replace(ss.SECRETS_DIR, str(tmp_path)) for arg in entry]
    out = subprocess.run(unescaped, capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]})
    assert out.stdout.strip() == "postgres://authenticator:s3cr3t'x@db:5432/postgres s3cr3t'x"
    assert "s3cr3t" not in " ".join(entry)


def test_the_wrapper_runs_the_image_program_when_compose_sets_no_entrypoint(private):
    _, plan = private
    auth = plan.file["services"]["auth"]
    assert auth["entrypoint"][:2] == ["/bin/sh", "-c"]
    assert auth["entrypoint"][3:] == ["localai-secrets", "/entrypoint.sh", "serve", "--port", "$$PORT"]
    assert "command" not in auth


def test_a_healthcheck_reading_a_moved_variable_reads_its_file_and_calls_itself_on_loopback(private):
    _, plan = private
    realtime = plan.file["services"]["realtime"]["healthcheck"]["test"][1]
    assert "$${ANON_KEY}" not in realtime and "$$(cat /run/secrets/ANON_KEY)" in realtime
    storage = plan.file["services"]["storage"]["healthcheck"]["test"]
    assert "http://127.0.0.1:5000/status" in storage


def test_target_is_remembered_in_env_like_the_profile(project: Path):
    prepared = prepare(project, {"TARGET": "swarm"})
    prepared.commit()
    assert "TARGET=swarm" in (project / ".env").read_text().splitlines()
    assert prepare(project, {}).settings["TARGET"] == "swarm"
    assert prepare(REPO.parent / "nonexistent-localai", {}).settings["TARGET"] == "compose"
