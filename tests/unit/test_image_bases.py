"""tests/images/build.py: bases per Debian suite, and which base and folders each image builds from."""
from __future__ import annotations

import importlib.util
import sys

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("images_build", REPO / "tests" / "images" / "build.py")
assert _spec and _spec.loader
build = importlib.util.module_from_spec(_spec)
sys.modules["images_build"] = build
_spec.loader.exec_module(build)


def test_postgres_17_builds_on_trixie_and_postgres15_on_bookworm():
    assert build.suite("base") == "bookworm" and build.suite("base-trixie") == "trixie"
    assert {"postgresql-17", "postgresql-17-pgvector"} <= set(build.packages("base-trixie"))
    assert "postgresql-15" in build.packages("base")
    assert build.image_base("postgres") == "base-trixie"
    assert build.image_base("postgres15") == "base"
    assert build.directive("postgres15", "inputs") == ["postgres"]  # its hash follows postgres/


def test_only_the_bases_the_selection_needs_are_built():
    assert build.selected_bases("postgres", ["postgres"]) == ["base-trixie"]
    assert build.selected_bases("caddy,postgres15", ["caddy", "postgres15"]) == ["base"]
    assert build.selected_bases("base-trixie", []) == ["base-trixie"]
    assert build.selected_bases("", build.image_dirs()) == ["base", "base-trixie"]


def test_another_suite_comes_from_the_bookworm_mirror(tmp_path):
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    (sources / "debian.sources").write_text("Types: deb\nURIs: http://mirror.example/debian\n"
                                            "Suites: bookworm bookworm-updates\nComponents: main\n")
    missing = tmp_path / "sources.list"
    assert build.apt_mirror(sources, missing, "trixie") == "http://mirror.example/debian"


def test_slim_patterns_of_a_base_are_removed(tmp_path):
    for rel in ("usr/lib/postgresql/17/lib/bitcode/x.bc", "usr/lib/x86_64-linux-gnu/libLLVM.so.19.1",
                "var/lib/postgresql/17/main/PG_VERSION", "usr/lib/postgresql/17/lib/vector.so"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    build.slim(tmp_path, "base-trixie")
    assert not (tmp_path / "usr/lib/postgresql/17/lib/bitcode").exists()
    assert not (tmp_path / "usr/lib/x86_64-linux-gnu/libLLVM.so.19.1").exists()
    assert not (tmp_path / "var/lib/postgresql/17/main").exists()
    assert (tmp_path / "usr/lib/postgresql/17/lib/vector.so").exists()
