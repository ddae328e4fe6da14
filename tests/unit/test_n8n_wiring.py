"""n8n 2.x wiring as rendered: pin, task runners, secrets out of expressions, no call home, owner
from the environment, the starter agent's contract with the Open WebUI pipe, its editor layout,
and which settings our saved n8n credentials follow. Sources: tests/records/env/n8n.yml."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

import bcrypt
import pytest
import yaml

from stack.config.generators import BcryptOf
from stack.config.images import DEFAULT_IMAGES
from stack.config.schema import BY_KEY
from stack.config.secrets import new_secret
from stack.config.store import prepare
from stack.ops import n8n_setup
from stack.ops.rotate import new_values
from stack.render.context import N8N_ENTRYPOINT
from stack.services import n8n
from tests.conftest import PUBLIC_ENV, append_env, run_start

NODE_BOX = (220, 140)  # width, height an n8n node takes on the canvas with its label below


def _render(project, environment="private"):
    if environment == "public":
        append_env(project, PUBLIC_ENV)
    result = run_start(project, "render", "--environment", environment)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((project / "build" / "docker-compose.yml").read_text())


def _starter(project):
    return json.loads((project / "build" / "n8n" / "starter-agent.json").read_text())


def test_n8n_and_its_runners_are_pinned_to_the_same_2x_release():
    n8n_tag = DEFAULT_IMAGES["N8N_IMAGE"].rsplit(":", 1)[1]
    assert DEFAULT_IMAGES["N8N_IMAGE"].startswith("n8nio/n8n:") and n8n_tag.split(".")[0] == "2"
    assert DEFAULT_IMAGES["N8N_RUNNERS_IMAGE"] == f"n8nio/runners:{n8n_tag}"


@pytest.mark.parametrize("environment", ["private", "public"])
def test_n8n_keeps_secrets_out_of_workflows_and_does_not_call_home(project, environment):
    env = _render(project, environment)["services"]["n8n"]["environment"]
    assert env["N8N_BLOCK_ENV_ACCESS_IN_NODE"] == "true"
    assert env["N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS"] == "true"
    assert "OLLAMA_BASE_URL" not in env, "n8n does not read it; our Ollama credential carries the URL"
    assert "N8N_RUNNERS_ENABLED" not in env, "deprecated at 2.0; n8n 2.x always uses task runners"
    for flag in ("N8N_DIAGNOSTICS_ENABLED", "N8N_VERSION_NOTIFICATIONS_ENABLED",
                 "N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED", "N8N_TEMPLATES_ENABLED",
                 "N8N_DYNAMIC_BANNERS_ENABLED", "N8N_COMMUNITY_PACKAGES_ENABLED", "N8N_PERSONALIZATION_ENABLED"):
        assert env[flag] == "false", flag


def test_code_nodes_run_in_an_isolated_runners_container(project):
    compose = _render(project)
    n8n, runners = compose["services"]["n8n"], compose["services"]["n8n-runners"]
    assert n8n["environment"]["N8N_RUNNERS_MODE"] == "external"
    assert n8n["environment"]["N8N_RUNNERS_BROKER_LISTEN_ADDRESS"] == "0.0.0.0"
    assert n8n["environment"]["N8N_RUNNERS_AUTH_TOKEN"] == runners["environment"]["N8N_RUNNERS_AUTH_TOKEN"] \
        == "${N8N_RUNNERS_AUTH_TOKEN}"
    assert runners["image"] == DEFAULT_IMAGES["N8N_RUNNERS_IMAGE"]
    assert runners["environment"]["N8N_RUNNERS_TASK_BROKER_URI"] == "http://n8n:5679"
    assert runners["networks"] == ["n8n-runners"], "the runners reach n8n's broker and nothing else"
    assert compose["networks"]["n8n-runners"] == {"internal": True}
    assert set(n8n["networks"]) == {"default", "n8n-runners"}
    assert "volumes" not in runners and "ports" not in runners
    assert "127.0.0.1:5680/healthz" in " ".join(runners["healthcheck"]["test"])


def test_n8n_is_ready_only_when_its_rest_api_answers(project):
    health = " ".join(_render(project)["services"]["n8n"]["healthcheck"]["test"])
    assert "http://127.0.0.1:5678/rest/settings" in health and "localhost" not in health
    assert n8n.SERVICE.probe is not None
    assert n8n.SERVICE.probe.path == "/rest/settings" and n8n.SERVICE.probe.expect == '"settingsMode"'


def test_the_owner_comes_from_the_environment_before_anyone_can_visit(project):
    env = _render(project, "public")["services"]["n8n"]["environment"]
    assert env["N8N_INSTANCE_OWNER_MANAGED_BY_ENV"] == "true"
    assert env["N8N_INSTANCE_OWNER_EMAIL"] == "owner@localai.local"
    assert env["N8N_OWNER_PASSWORD_HASH_B64"] == "${N8N_OWNER_PASSWORD_HASH}"
    assert BY_KEY["N8N_OWNER_PASSWORD_HASH"].secret.make == BcryptOf("N8N_OWNER_PASSWORD")


def test_owner_passwords_meet_n8ns_rules():
    """api-types dist/schemas/password.schema.js: 8 to 64 characters, a digit, an uppercase letter."""
    for _ in range(500):
        password = new_secret("N8N_OWNER_PASSWORD", {})
        assert 8 <= len(password) <= 64 and password.isalnum()
        assert any(c.isdigit() for c in password) and any(c.isupper() for c in password)


@pytest.mark.skipif(not shutil.which("node"), reason="needs node, as in n8n's image")
def test_the_entrypoint_hands_n8n_the_exact_bcrypt_hash(tmp_path):
    """owner.instance-settings-loader.js:19 wants $2[aby]$NN$ + 53 chars; Compose's $$ is a literal $."""
    hashed = bcrypt.hashpw(b"Secret123", bcrypt.gensalt(rounds=4)).decode()
    tini = tmp_path / "tini"
    tini.write_text('#!/bin/sh\nprintf "%s|%s" "$N8N_INSTANCE_OWNER_PASSWORD_HASH" '
                    '"${N8N_OWNER_PASSWORD_HASH_B64-unset}"\n')
    tini.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}",
           "N8N_OWNER_PASSWORD_HASH_B64": base64.b64encode(hashed.encode()).decode()}
    result = subprocess.run(["/bin/sh", "-c", N8N_ENTRYPOINT.replace("$$", "$")], env=env, text=True,
                            capture_output=True, timeout=30, check=True)
    assert result.stdout == f"{hashed}|unset"


def test_starter_agent_is_a_public_chat_webhook_with_basic_auth(project):
    _render(project)
    workflow = _starter(project)
    trigger = next(n for n in workflow["nodes"] if n["type"] == "@n8n/n8n-nodes-langchain.chatTrigger")
    # the pipe's URL: /webhook/<webhookId>/chat (ChatTrigger.node.js webhooks path CHAT_TRIGGER_PATH_SUFFIX)
    assert trigger["webhookId"] == "localai-agent"
    assert trigger["parameters"]["public"] is True and trigger["parameters"]["mode"] == "webhook"
    assert trigger["parameters"]["authentication"] == "basicAuth"
    assert trigger["parameters"]["options"]["responseMode"] == "lastNode"
    assert trigger["credentials"]["httpBasicAuth"]["id"] == "localaiAgentAuth"
    assert workflow["id"] == n8n_setup.STARTER_ID


def test_every_credential_the_workflow_uses_is_one_we_create(project):
    _render(project)
    settings = prepare(project, {}).settings
    ours = {c["id"]: c for c in n8n_setup.credentials(settings)}
    for node in _starter(project)["nodes"]:
        for kind, ref in node.get("credentials", {}).items():
            assert ref["id"] in ours, node["name"]
            assert (ours[ref["id"]]["type"], ours[ref["id"]]["name"]) == (kind, ref["name"])
    auth = ours["localaiAgentAuth"]["data"]
    assert auth == {"user": "openwebui", "password": settings["N8N_AGENT_PASSWORD"]}
    assert settings["N8N_AGENT_PASSWORD"].isalnum() and len(settings["N8N_AGENT_PASSWORD"]) >= 24


def test_starter_agent_nodes_do_not_overlap_in_the_editor(project):
    _render(project)
    nodes = _starter(project)["nodes"]
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            dx, dy = abs(a["position"][0] - b["position"][0]), abs(a["position"][1] - b["position"][1])
            assert dx >= NODE_BOX[0] or dy >= NODE_BOX[1], f"{a['name']} overlaps {b['name']}"


def test_rotations_that_change_what_our_credentials_hold_refresh_them(project):
    _render(project)
    settings = prepare(project, {}).settings
    for key in ("N8N_DB_PASSWORD", "JWT_SECRET"):
        assert set(new_values(key, settings)) & n8n_setup.CREDENTIAL_KEYS, key
    assert not set(new_values("WEBUI_SECRET_KEY", settings)) & n8n_setup.CREDENTIAL_KEYS


def test_workflow_ids_are_read_from_n8ns_list_output():
    out = ("Permissions 0644 for n8n settings file /home/node/.n8n/config are too wide. Changing permissions\n"
           "localaiStarterAgent\nAbC123xyz\n\n")
    assert n8n_setup.parse_workflow_ids(out) == {"localaiStarterAgent", "AbC123xyz"}


def test_what_is_present_is_read_from_the_query_rows():
    out = "credential localaiOllama\ncredential localaiSearxng\nworkflow localaiStarterAgent\n\n"
    seen = n8n_setup.parse_present(out)
    assert seen.credentials == {"localaiOllama", "localaiSearxng"} and seen.starter
    assert n8n_setup.parse_present("credential localaiOllama\n") == n8n_setup.Present(frozenset({"localaiOllama"}),
                                                                                     False)


def test_the_query_reads_only_our_ids_and_keeps_the_password_off_argv(project):
    sql = n8n_setup.PRESENT_SQL.format(starter=n8n_setup.STARTER_ID)
    assert "FROM credentials_entity" in sql and "FROM workflow_entity" in sql
    assert "'localai%'" in sql and f"id = '{n8n_setup.STARTER_ID}'" in sql
    assert all(str(c["id"]).startswith("localai") for c in n8n_setup.credentials(prepare(project, {}).settings))
    assert "read -r PGPASSWORD" in n8n_setup.PRESENT_SCRIPT and "PGPASSWORD=" not in n8n_setup.PRESENT_SCRIPT


def test_the_credentials_fingerprint_follows_every_value_they_hold(project):
    _render(project)
    settings = prepare(project, {}).settings
    before = n8n_setup.credentials_fingerprint(settings)
    assert n8n_setup.credentials_fingerprint(prepare(project, {}).settings) == before
    for key, value in (("N8N_DB_PASSWORD", "other-db-password"), ("N8N_AGENT_PASSWORD", "other-agent-password"),
                       ("SERVICE_ROLE_KEY", "other.service.key")):
        changed = type(settings)(root=settings.root, values={**settings.values, key: value})
        assert n8n_setup.credentials_fingerprint(changed) != before, key
    switched = prepare(project, {"PROFILE": "none"}).settings  # Ollama's URL moves to the host
    assert n8n_setup.credentials_fingerprint(switched) != before


@pytest.mark.parametrize("environment", ["private", "public"])
def test_the_env_records_cover_what_we_render_for_n8n(project, environment):
    from tests.conftest import REPO

    services = _render(project, environment)["services"]
    for name in ("n8n", "n8n-runners"):
        record = yaml.safe_load((REPO / "tests" / "records" / "env" / f"{name}.yml").read_text())
        assert DEFAULT_IMAGES[record["image_key"]].rsplit(":", 1)[1] == record["version"]
        known = set(record["variables"]) | set(record["ours"] or {})
        assert set(services[name]["environment"]) <= known, set(services[name]["environment"]) - known
