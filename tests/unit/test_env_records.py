"""The record of what each program reads (tests/records/env/<service>.yml, format in CONVENTIONS) guards
every rendered service: each variable our compose sets for a service is in its record's `variables`
(read by the program, with a citation at the pinned version) or `ours` (read by our own wrapper),
the record's version is the pinned tag, and no record is left for a service that no longer renders.

The services come from the render itself, over every profile x environment x SUPABASE_SERVICES, so a
new service or a new variable fails here until its record says who reads it."""
from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import pytest
import yaml

from stack.config.images import DEFAULT_IMAGES
from stack.config.schema import ENVIRONMENTS, PROFILES
from stack.config.settings import build
from stack.render.files import render_files

REPO = Path(__file__).resolve().parents[2]
RECORDS = REPO / "tests" / "records" / "env"
PUBLIC = {"WEBUI_HOSTNAME": "chat.example.com", "N8N_HOSTNAME": "n8n.example.com",
          "SUPABASE_HOSTNAME": "supabase.example.com", "LETSENCRYPT_EMAIL": "admin@example.com",
          "SEARXNG_HOSTNAME": "search.example.com"}
VARIANT_SUFFIXES = ("-alpine", "-rocm")


def combinations() -> list[dict[str, str]]:
    out = []
    for profile in PROFILES:
        for environment in ENVIRONMENTS:
            for services in ("core", "full"):
                values = {"PROFILE": profile, "ENVIRONMENT": environment, "SUPABASE_SERVICES": services}
                if environment == "public":
                    values |= PUBLIC | ({"OLLAMA_HOSTNAME": "ollama.example.com"} if profile != "none" else {})
                out.append(values)
    return out


@functools.cache
def rendered() -> dict[str, dict[str, object]]:
    """service -> {"environment": {variable: the combinations that set it}, "images": {image refs}}."""
    services: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for values in combinations():
            settings = build(Path(tmp), {}, values)
            compose = yaml.safe_load(render_files(settings, REPO)["docker-compose.yml"])
            label = f"{values['PROFILE']}/{values['ENVIRONMENT']}/{values['SUPABASE_SERVICES']}"
            for name, spec in compose["services"].items():
                seen = services.setdefault(name, {"environment": {}, "images": set()})
                environment = spec.get("environment") or {}
                keys = environment if isinstance(environment, dict) else [e.split("=", 1)[0] for e in environment]
                for key in keys:
                    seen["environment"].setdefault(key, []).append(label)  # type: ignore[union-attr]
                seen["images"].add(spec["image"])  # type: ignore[union-attr]
    return services


def record(service: str) -> dict:
    path = RECORDS / f"{service}.yml"
    assert path.is_file(), f"no record of what {service} reads: write tests/records/env/{service}.yml"
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


def normalised(version: str) -> str:
    version = version.removeprefix("v")
    for suffix in VARIANT_SUFFIXES:
        version = version.removesuffix(suffix)
    return version


def tag(reference: str) -> str:
    return reference.rsplit("/", 1)[-1].rsplit(":", 1)[1]


SERVICES = sorted(rendered())


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_we_set_is_in_the_record(service):
    data = record(service)
    known = set(data.get("variables") or {}) | set(data.get("ours") or {})
    missing = {key: where[:2] for key, where in rendered()[service]["environment"].items() if key not in known}
    assert not missing, (f"{service} sets variables its record does not list (first renders shown): {missing}; "
                         f"add each to tests/records/env/{service}.yml with what reads it")


@pytest.mark.parametrize("service", SERVICES)
def test_record_is_of_the_pinned_version(service):
    data = record(service)
    for field in ("program", "image_key", "version", "source", "checked"):
        assert isinstance(data.get(field), str) and data[field].strip(), f"{service}.yml: {field} missing or empty"
    key = data["image_key"]
    assert key in DEFAULT_IMAGES, f"{service}.yml: image_key {key} is not in stack/config/images.py"
    pinned = tag(DEFAULT_IMAGES[key])
    assert normalised(data["version"]) == normalised(pinned), \
        f"{service}.yml records version {data['version']}, but {key} pins {pinned}: update the record"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["checked"]), f"{service}.yml: checked must be YYYY-MM-DD"
    # Every image the service renders with is that release (ollama's -rocm variant included).
    for reference in rendered()[service]["images"]:  # type: ignore[union-attr]
        assert normalised(tag(reference)) == normalised(pinned), (service, reference)


@pytest.mark.parametrize("service", SERVICES)
def test_every_citation_is_a_non_empty_string(service):
    data = record(service)
    for section in ("variables", "ours"):
        entries = data.get(section) or {}
        assert isinstance(entries, dict), f"{service}.yml: {section} must be a mapping"
        for key, citation in entries.items():
            assert isinstance(citation, str) and citation.strip(), f"{service}.yml: {section}.{key} has no citation"


def test_no_record_for_a_service_that_no_longer_renders():
    stale = sorted(p.stem for p in RECORDS.glob("*.yml") if p.stem not in rendered())
    assert not stale, f"records of services no compose renders any more: {stale}; remove them"
