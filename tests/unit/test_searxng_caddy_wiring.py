"""SearXNG's config folder is a volume its entrypoint may chown, our settings are read-only beside it, no
engine calls out at start, and no healthcheck of ollama/searxng/caddy probes `localhost` (which may
resolve to ::1 first while the service listens on IPv4)."""
from __future__ import annotations

import yaml

from stack.render.files import render_files
from tests.unit.test_doctor import settings


def _compose(tmp_path, profile="cpu"):
    files = render_files(settings(tmp_path, profile))
    return files, yaml.safe_load(files["docker-compose.yml"])["services"]


def test_searxng_config_folder_is_a_writable_volume(tmp_path):
    """Old code: ./searxng/settings.yml:/etc/searxng/settings.yml:ro inside the folder the entrypoint
    chowns (searxng/searxng @ 9fea41204 container/entrypoint.sh:35-78,104)."""
    _, services = _compose(tmp_path)
    searxng = services["searxng"]
    mounts = {v.split(":")[1]: v for v in searxng["volumes"]}
    assert mounts["/etc/searxng"] == "searxng_config:/etc/searxng"
    assert mounts["/etc/localai-searxng"].endswith(":ro")
    assert searxng["environment"]["SEARXNG_SETTINGS_PATH"] == "/etc/localai-searxng/settings.yml"
    assert not any(target.startswith("/etc/searxng/") for target in mounts)


def test_no_engine_calls_out_at_start(tmp_path):
    files, _ = _compose(tmp_path)
    engines = {e["name"]: e for e in yaml.safe_load(files["searxng/settings.yml"])["engines"]}
    assert engines["wikidata"]["inactive"] is True and engines["radio browser"]["inactive"] is True


def test_healthchecks_do_not_probe_localhost(tmp_path):
    for profile in ("cpu", "gpu-nvidia"):
        _, services = _compose(tmp_path, profile)
        for name in ("ollama", "searxng", "caddy"):
            test = " ".join(services[name]["healthcheck"]["test"])
            assert "localhost" not in test, (name, test)
        assert services["ollama"]["healthcheck"]["test"] == ["CMD", "ollama", "list"]  # the image has no curl/wget


def test_caddyfile_uses_basic_auth(tmp_path):
    caddyfile = render_files(settings(tmp_path))["Caddyfile"].decode()
    assert "basic_auth {" in caddyfile and "basicauth" not in caddyfile
