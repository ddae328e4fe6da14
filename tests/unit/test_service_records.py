"""The service records (stack/services) agree with what the fragments render, for every profile,
environment and Supabase set: each rendered service has a record, and each record's image, container
port, port setting and volumes are what its compose service really uses. Render, Caddy, readiness,
port checks and backup read the records, so a record that drifted from its fragment would misroute."""
from __future__ import annotations

import itertools
from functools import cache

import pytest
import yaml

from stack import services
from stack.config.schema import PROFILES
from stack.config.settings import build
from stack.ops.up import AFTER_READY, STEPS
from stack.render.files import render_files
from tests.conftest import PUBLIC_ENV, REPO

CASES = list(itertools.product(PROFILES, ("private", "public"), ("core", "full")))


@cache
def _rendered(profile: str, environment: str, full: str) -> tuple[dict, dict[str, str]]:
    values = {"PROFILE": profile, "ENVIRONMENT": environment, "SUPABASE_SERVICES": full, **PUBLIC_ENV}
    if profile != "none":
        values["OLLAMA_HOSTNAME"] = "ollama.example.com"
    values["SEARXNG_HOSTNAME"] = "search.example.com"
    settings = build(REPO, values, {"OLLAMA_CONTEXT_LENGTH": "8192"})
    return yaml.safe_load(render_files(settings, REPO)["docker-compose.yml"]), settings.values


@pytest.mark.parametrize(("profile", "environment", "full"), CASES)
def test_every_rendered_service_has_an_enabled_record(profile, environment, full):
    compose, values = _rendered(profile, environment, full)
    settings = build(REPO, values, {})
    assert sorted(compose["services"]) == sorted(s.name for s in services.enabled_services(settings))


@pytest.mark.parametrize(("profile", "environment", "full"), CASES)
def test_records_match_their_compose_service(profile, environment, full):
    compose, values = _rendered(profile, environment, full)
    for name, spec in compose["services"].items():
        record = services.by_name(name)
        keys = [record.image_key, record.image_key.replace("_IMAGE", "_ROCM_IMAGE")]
        assert spec["image"] in {values[k] for k in keys if k in values}, (name, spec["image"])
        named = {str(v).split(":", 1)[0] for v in spec.get("volumes", []) if not str(v).startswith((".", "/"))}
        assert set(record.volumes) <= named, (name, named, record.volumes)  # its own (others may share)
        ports = spec.get("ports", [])
        if environment == "private":
            expected = [f"127.0.0.1:{values[record.port_key]}:{record.port}"] if record.port_key else []
        else:
            expected = [f"{p.port}:{p.port}" for p in record.public_ports]
        assert [p for p in ports if not str(p).endswith("/udp")] == expected, (name, ports)
    owners = [v for s in services.SERVICES if s.name in compose["services"] for v in s.volumes]
    assert sorted(owners) == sorted(compose["volumes"]), "each volume is owned by exactly one record"


def test_caddy_routes_each_site_to_its_record_port():
    compose, values = _rendered("cpu", "private", "core")
    sites = services.caddy_sites(build(REPO, values, {}))
    routed = {s.name for s in services.SERVICES if s.site}
    assert {site["upstream"] for site in sites} == {f"{s.name}:{s.port}" for s in services.SERVICES if s.site}
    assert set(compose["services"]["caddy"]["depends_on"]) == routed


def test_one_database_volume():
    assert [s.volumes[0] for s in services.SERVICES if s.database] == [services.database_volume()]


def test_after_ready_hooks_are_declared_names_of_enabled_services():
    settings = build(REPO, {"SUPABASE_SERVICES": "core"}, {})
    assert services.after_ready_hooks(settings) == ["ollama.pull_models", "open_webui.ensure_pipe", "n8n.sync",
                                                    "supabase.prove_keys"]
    assert "ollama.pull_models" not in services.after_ready_hooks(build(REPO, {"PROFILE": "none"}, {}))


def test_each_after_ready_hook_names_a_step_of_up():
    """A record names its after-ready step; ops.up maps the name to the step that does it."""
    hooks = {s.after_ready for s in services.SERVICES if s.after_ready}
    assert hooks == set(AFTER_READY)
    assert set(AFTER_READY.values()) <= {step.name for step in STEPS}
