"""Read-only commands on a real stack change no file, and `down` stops what is running: an edit of
.env not applied yet (a new PROJECT_NAME, a typo) changes neither their files nor their target.

Tests run in order on one stack."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import append_env
from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, assert_ok, make_stack

APPLY_HINT = "run `start.py` to apply"


@pytest.fixture(scope="module")
def ro_stack(tmp_path_factory):
    stack = make_stack(tmp_path_factory, "ro", PRIVATE_PORTS)
    try:
        yield stack
    finally:
        stack.destroy()


def _files(root: Path) -> dict[str, str]:
    """.env and every file under build/ -> sha256 and mode."""
    paths = [root / ".env", *sorted((root / "build").rglob("*"))]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
            for p in paths if p.is_file()}


def test_up(ro_stack):
    assert_ok(ro_stack.start("up", "--no-pull", "--timeout", UP_TIMEOUT))


def test_status_and_logs_of_an_applied_stack_change_no_file(ro_stack):
    before = _files(ro_stack.root)
    status = ro_stack.start("status")
    assert_ok(status)
    assert "running" in status.stdout and APPLY_HINT not in status.stderr
    assert_ok(ro_stack.start("logs", "searxng", "--tail", "5"))
    assert _files(ro_stack.root) == before


def test_an_edit_not_applied_yet_is_reported_and_nothing_is_rewritten(ro_stack):
    """Before: status and logs re-rendered build/ from the edited .env and generated the blanked secret."""
    env = (ro_stack.root / ".env").read_text()
    append_env(ro_stack.root, {"WEBUI_NAME": "Edited Name", "SEARXNG_SECRET": ""})
    try:
        before = _files(ro_stack.root)
        status = ro_stack.start("status")
        assert _files(ro_stack.root) == before
        assert_ok(status)
        assert APPLY_HINT in status.stderr and "running" in status.stdout
        logs = ro_stack.start("logs", "searxng", "--tail", "5")
        assert_ok(logs)
        assert APPLY_HINT in logs.stderr
        refused = ro_stack.start("backup")
        assert refused.returncode != 0 and "run `start.py` to apply it first" in refused.stderr
        assert _files(ro_stack.root) == before
    finally:
        (ro_stack.root / ".env").write_text(env)


def test_a_typo_in_env_does_not_break_status(ro_stack):
    env = (ro_stack.root / ".env").read_text()
    append_env(ro_stack.root, {"WEBUI_PORT": "23ooo"})
    try:
        before = _files(ro_stack.root)
        status = ro_stack.start("status")
        assert_ok(status)
        assert "WEBUI_PORT: '23ooo' is not a port number" in status.stderr and APPLY_HINT in status.stderr
        assert "running" in status.stdout and f"127.0.0.1:{PRIVATE_PORTS['WEBUI_PORT']}" in status.stdout
        assert _files(ro_stack.root) == before
    finally:
        (ro_stack.root / ".env").write_text(env)


def test_down_after_a_project_name_edit_stops_the_running_project(ro_stack):
    """Before: down targeted the new name, and the old project's containers stayed up."""
    assert any(c["State"]["Running"] for c in ro_stack.containers().values())
    append_env(ro_stack.root, {"PROJECT_NAME": ro_stack.project + "x"})
    before = _files(ro_stack.root)
    result = ro_stack.start("down", timeout=600)
    assert_ok(result)
    assert ro_stack.containers() == {}, "the running project's containers are still there"
    assert _files(ro_stack.root) == before
