"""IMAGE_REGISTRY: the mapping (stack/config/mirror.py) and that every rendered image goes through it.

Canonical names as Docker makes them: distribution/reference normalize.go @ 4ca14034,
splitDockerDomain (a first component is a host when it has "." or ":", is "localhost" or is not
lowercase; else Docker Hub "docker.io", with "library/" for one-component names;
"index.docker.io" is Docker Hub too).
"""
from __future__ import annotations

import itertools

import pytest
import yaml

from stack.config.images import DEFAULT_IMAGES
from stack.config.mirror import mirror_ref, registry_problem, split_reference
from stack.config.schema import PROFILES
from stack.config.settings import build
from stack.errors import ConfigError
from stack.ops import dbstate
from stack.ops.images import needed
from stack.ops.pulls import pull_failure
from stack.render.files import COMPOSE_FILE, render_files
from tests.conftest import REPO

REG = "reg:5000/mirror"


@pytest.mark.parametrize(("ref", "mirrored"), [
    ("caddy:2.11.9-alpine", "reg:5000/mirror/docker.io/library/caddy:2.11.9-alpine"),
    ("ghcr.io/open-webui/open-webui:v0.12.4", "reg:5000/mirror/ghcr.io/open-webui/open-webui:v0.12.4"),
    ("ollama/ollama:0.32.15", "reg:5000/mirror/docker.io/ollama/ollama:0.32.15"),
    ("docker.io/caddy:2", "reg:5000/mirror/docker.io/library/caddy:2"),
    ("index.docker.io/library/caddy:2", "reg:5000/mirror/docker.io/library/caddy:2"),
    ("docker.io/n8nio/n8n:2.41.3", "reg:5000/mirror/docker.io/n8nio/n8n:2.41.3"),
    ("localhost/app:1", "reg:5000/mirror/localhost/app:1"),
    ("localhost:5000/team/app:1", "reg:5000/mirror/localhost:5000/team/app:1"),
    ("Corp/app:1", "reg:5000/mirror/Corp/app:1"),
    ("quay.io/a/b/c:1.0", "reg:5000/mirror/quay.io/a/b/c:1.0"),
    ("localai-test/caddy:dev", "reg:5000/mirror/docker.io/localai-test/caddy:dev"),
    ("caddy@sha256:" + "a" * 64, "reg:5000/mirror/docker.io/library/caddy@sha256:" + "a" * 64),
    ("caddy:2@sha256:" + "b" * 64, "reg:5000/mirror/docker.io/library/caddy:2@sha256:" + "b" * 64),
])
def test_the_mapping(ref, mirrored):
    assert mirror_ref(REG, ref) == mirrored
    assert mirror_ref(REG + "/", ref) == mirrored


def test_no_registry_is_no_change_and_mapping_twice_changes_nothing():
    for ref in DEFAULT_IMAGES.values():
        assert mirror_ref("", ref) == ref
        assert mirror_ref(REG, mirror_ref(REG, ref)) == mirror_ref(REG, ref)


def test_split_keeps_the_tag_apart_from_a_port():
    assert split_reference("reg.example:5000/app") == ("reg.example:5000", "app", "")
    assert split_reference("reg.example:5000/app:1") == ("reg.example:5000", "app", ":1")


@pytest.mark.parametrize("value", ["reg:5000", "reg:5000/mirror", "registry.example.com/a/b", "127.0.0.1:41500/x",
                                   "localhost", "[::1]:5000/m"])
def test_good_registries(value):
    assert registry_problem(value) is None


@pytest.mark.parametrize("value", ["http://reg:5000", "reg:5000/Mirror", "reg:port", "reg/ x", "reg:5000/m:tag",
                                   "-reg", "reg//x"])
def test_bad_registries(value):
    assert registry_problem(value)


def test_a_bad_image_registry_setting_is_one_line_naming_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, {"IMAGE_REGISTRY": "https://reg:5000"}, {})
    assert str(caught.value).startswith("IMAGE_REGISTRY: 'https://reg:5000' must be host[:port][/prefix]")


def test_overridden_images_go_through_the_mirror_too(tmp_path):
    settings = build(tmp_path, {"IMAGE_REGISTRY": REG, "N8N_IMAGE": "corp.example/n8n:custom",
                                "CADDY_IMAGE": f"{REG}/hand/made:1"}, {})
    assert settings.image("N8N_IMAGE") == f"{REG}/corp.example/n8n:custom"
    assert settings.image("CADDY_IMAGE") == f"{REG}/hand/made:1"  # already under the mirror: as written
    assert settings.image("OPEN_WEBUI_IMAGE") == f"{REG}/ghcr.io/open-webui/open-webui:v0.12.4"
    assert settings["N8N_IMAGE"] == "corp.example/n8n:custom"  # the setting itself is unchanged


@pytest.mark.parametrize(("profile", "supabase"), list(itertools.product(PROFILES, ("core", "full"))))
def test_every_rendered_image_is_a_mirror_ref_and_needed_lists_exactly_them(tmp_path, profile, supabase):
    settings = build(tmp_path, {"IMAGE_REGISTRY": REG, "PROFILE": profile, "SUPABASE_SERVICES": supabase,
                                "OLLAMA_CONTEXT_LENGTH": "8192"}, {})
    compose = yaml.safe_load(render_files(settings, REPO)[COMPOSE_FILE])
    rendered = {str(spec["image"]) for spec in compose["services"].values()}
    assert all(ref.startswith(REG + "/") for ref in rendered), rendered
    assert {item.ref for item in needed(settings)} == rendered
    assert all(item.ref == mirror_ref(REG, DEFAULT_IMAGES[item.key]) for item in needed(settings))


def test_a_failed_pull_of_a_mirror_ref_names_its_setting(tmp_path):
    settings = build(tmp_path, {"IMAGE_REGISTRY": REG}, {})
    ref = settings.image("CADDY_IMAGE")
    assert pull_failure(settings, [ref], []) == f"could not pull {ref} (CADDY_IMAGE)"


def test_the_database_image_recorded_is_the_one_that_ran(tmp_path):
    settings = build(tmp_path, {"IMAGE_REGISTRY": REG}, {})
    dbstate.record(settings)
    assert dbstate.recorded_db_image(settings) == f"{REG}/docker.io/{DEFAULT_IMAGES['SUPABASE_DB_IMAGE']}"
