"""Rendering: deterministic, secrets only as ${VAR}, ports bound as each environment demands."""
from __future__ import annotations

import yaml

from stack.config.images import DEFAULT_IMAGES, image_problem
from stack.config.schema import SECRET_KEYS, example_text
from tests.conftest import PUBLIC_ENV, REPO, append_env, read_env_file, run_start


def _compose(project):
    return yaml.safe_load((project / "build" / "docker-compose.yml").read_text())


def _tree(path):
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_env_example_documents_every_setting():
    assert (REPO / ".env.example").read_text() == example_text(), \
        ".env.example is stale: regenerate it from stack/config/schema.py"


def test_two_renders_are_byte_identical(project, tmp_path):
    assert run_start(project, "render").returncode == 0
    first = _tree(project / "build")
    assert run_start(project, "render", "--output", str(tmp_path / "second")).returncode == 0
    assert _tree(tmp_path / "second") == first


def test_no_secret_value_in_any_rendered_file(project):
    append_env(project, PUBLIC_ENV | {"OLLAMA_HOSTNAME": "ollama.example.com"})
    for environment in ("private", "public"):
        assert run_start(project, "render", "--environment", environment).returncode == 0
        secrets = [v for k, v in read_env_file(project / ".env").items() if k in SECRET_KEYS]
        for rel, content in _tree(project / "build").items():
            text = content.decode()
            for value in secrets:
                assert value not in text, f"a secret value leaked into {rel}"


def test_private_binds_every_published_port_to_loopback(project):
    assert run_start(project, "render", "--environment", "private").returncode == 0
    published = 0
    for name, spec in _compose(project)["services"].items():
        for port in spec.get("ports", []):
            published += 1
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"
    assert published >= 6


def test_public_publishes_only_caddy_80_443(project):
    append_env(project, PUBLIC_ENV | {"OLLAMA_HOSTNAME": "ollama.example.com"})
    assert run_start(project, "render", "--environment", "public").returncode == 0
    services = _compose(project)["services"]
    for name, spec in services.items():
        if name != "caddy":
            assert "ports" not in spec, f"{name} is published in public mode"
    assert sorted(services["caddy"]["ports"]) == ["443:443", "443:443/udp", "80:80"]
    caddyfile = (project / "build" / "Caddyfile").read_text()
    block = caddyfile.split("ollama.example.com {", 1)[1].split("}", 1)[0]
    assert "import login_required" in block, "Ollama must sit behind basic auth in public mode"


def test_public_without_optional_hosts_does_not_route_ollama_or_searxng(project):
    append_env(project, PUBLIC_ENV)
    assert run_start(project, "render", "--environment", "public").returncode == 0
    caddyfile = (project / "build" / "Caddyfile").read_text()
    assert "ollama:11434" not in caddyfile and "searxng:8080" not in caddyfile


def test_every_image_is_pinned(project):
    for ref in DEFAULT_IMAGES.values():
        assert image_problem(ref) is None, ref
    append_env(project, {"SUPABASE_SERVICES": "full"})
    assert run_start(project, "render").returncode == 0
    for name, spec in _compose(project)["services"].items():
        image = spec["image"]
        tag = image.rsplit(":", 1)[-1]
        assert ":" in image and tag not in ("latest", "main"), f"{name}: {image}"


def test_images_can_be_overridden_from_env(project):
    append_env(project, {"OLLAMA_IMAGE": "mirror.local/ollama:1.2.3"})
    assert run_start(project, "render").returncode == 0
    assert _compose(project)["services"]["ollama"]["image"] == "mirror.local/ollama:1.2.3"


def test_profiles(project):
    assert run_start(project, "render", "--profile", "gpu-nvidia").returncode == 0
    ollama = _compose(project)["services"]["ollama"]
    device = ollama["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["count"] == "all" and device["capabilities"] == ["gpu"]

    assert run_start(project, "render", "--profile", "gpu-amd").returncode == 0
    ollama = _compose(project)["services"]["ollama"]
    assert ollama["image"].endswith("-rocm") and ollama["devices"] == ["/dev/kfd", "/dev/dri"]

    assert run_start(project, "render", "--profile", "none").returncode == 0
    services = _compose(project)["services"]
    assert "ollama" not in services
    webui = services["open-webui"]
    assert webui["environment"]["OLLAMA_BASE_URL"] == "http://host.docker.internal:11434"
    assert "host.docker.internal:host-gateway" in webui["extra_hosts"]
    assert "ollama" not in webui.get("depends_on", {})


def test_ollama_tuning_defaults_and_overrides(project):
    assert run_start(project, "render").returncode == 0
    env = _compose(project)["services"]["ollama"]["environment"]
    assert env["OLLAMA_FLASH_ATTENTION"] == "1"
    assert env["OLLAMA_KV_CACHE_TYPE"] == "q8_0"
    assert env["OLLAMA_CONTEXT_LENGTH"] == "8192"
    append_env(project, {"OLLAMA_CONTEXT_LENGTH": "16384", "OLLAMA_KV_CACHE_TYPE": "f16",
                         "OLLAMA_FLASH_ATTENTION": "0"})
    assert run_start(project, "render").returncode == 0
    env = _compose(project)["services"]["ollama"]["environment"]
    assert (env["OLLAMA_CONTEXT_LENGTH"], env["OLLAMA_KV_CACHE_TYPE"], env["OLLAMA_FLASH_ATTENTION"]) == \
        ("16384", "f16", "0")


def test_every_service_has_healthcheck_restart_and_log_rotation(project):
    append_env(project, {"SUPABASE_SERVICES": "full"})
    assert run_start(project, "render").returncode == 0
    services = _compose(project)["services"]
    core = {"db", "kong", "auth", "rest", "realtime", "storage", "imgproxy", "meta", "studio"}
    assert core | {"analytics", "vector", "functions", "supavisor", "ollama", "open-webui", "n8n",
                   "searxng", "caddy"} <= set(services)
    for name, spec in services.items():
        assert spec["restart"] == "unless-stopped"
        assert spec["logging"]["options"]["max-size"]
        if name != "functions":
            assert "healthcheck" in spec, f"{name} has no healthcheck"
        for dep in spec.get("depends_on", {}).values():
            assert dep["condition"] in ("service_healthy", "service_started")


def test_core_set_leaves_out_the_full_services(project):
    assert run_start(project, "render").returncode == 0
    services = _compose(project)["services"]
    assert not {"analytics", "vector", "functions", "supavisor"} & set(services)


def test_changed_config_file_changes_the_service_label(project):
    assert run_start(project, "render").returncode == 0
    label = _compose(project)["services"]["searxng"]["labels"]["localai.config-hash"]
    append_env(project, {"WEBUI_NAME": "Other"})
    assert run_start(project, "render").returncode == 0
    assert _compose(project)["services"]["searxng"]["labels"]["localai.config-hash"] != label
