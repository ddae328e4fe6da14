"""Healthchecks must reach a service however `localhost` resolves inside its container.

Where `localhost` resolves to ::1 first (supabase/supabase issue 42776, PR 41037), a probe of
http://localhost:... never reaches a program that listens on IPv4 only, and `up` never finishes.
Probes name the service (as Supabase's own compose does for storage and vector) or 127.0.0.1.
"""
from __future__ import annotations

import yaml

from tests.conftest import append_env, run_start

# The services whose probes this test guards. Only the Supabase API services for now (their
# fragments are fixed); the lead widens this to every rendered service once the others are.
PROBED_SERVICES = ("kong", "auth", "rest", "realtime", "storage", "imgproxy", "meta", "studio", "analytics",
                   "vector", "functions", "supavisor")


def _services(project):
    append_env(project, {"SUPABASE_SERVICES": "full"})
    result = run_start(project, "render")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((project / "build" / "docker-compose.yml").read_text())["services"]


def test_no_healthcheck_probes_localhost(project):
    services = _services(project)
    missing = [name for name in PROBED_SERVICES if name not in services]
    assert not missing, f"not rendered: {missing}"
    for name in PROBED_SERVICES:
        test = services[name].get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        probe = " ".join(test) if isinstance(test, list) else str(test)
        assert "localhost" not in probe, f"{name} probes localhost: {probe}"


def test_storage_and_vector_probe_their_service_name_like_upstream(project):
    # supabase/supabase docker/docker-compose.yml @ 1f37f2a9 (storage) and docker-compose.logs.yml
    # @ 07b8529e (vector): http://storage:5000/status, http://vector:9001/health.
    services = _services(project)
    assert "http://storage:5000/status" in services["storage"]["healthcheck"]["test"]
    assert "http://vector:9001/health" in services["vector"]["healthcheck"]["test"]
