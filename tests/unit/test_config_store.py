"""Config reads without writing: `load` is pure, only up/render save, and build/ records the settings
it was rendered from so a later edit of .env is reported instead of half-applied."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stack.config import redact, store
from stack.errors import ConfigError
from tests.conftest import append_env, read_env_file, run_start


def _snapshot(root: Path) -> dict[str, str]:
    """Every file of the project (its .env and build/ included) -> sha256 and mode."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture
def rendered(project: Path) -> Path:
    result = run_start(project, "render")
    assert result.returncode == 0, result.stderr
    return project


def test_load_without_env_is_one_line_and_creates_nothing(project):
    before = _snapshot(project)
    with pytest.raises(ConfigError, match=r"no \.env here"):
        store.load(project)
    with pytest.raises(ConfigError, match=r"no \.env here"):
        store.applied(project, project / "build")
    result = run_start(project, "supabase", "keys")
    assert result.returncode != 0 and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert _snapshot(project) == before


def test_load_is_pure_and_generates_nothing(rendered):
    env = rendered / ".env"
    text = env.read_text().replace(f"SEARXNG_SECRET={read_env_file(env)['SEARXNG_SECRET']}", "SEARXNG_SECRET=")
    env.write_text(text)
    env.chmod(0o644)
    before = _snapshot(rendered)
    settings = store.load(rendered)
    state = store.applied(rendered, rendered / "build")
    assert settings["SEARXNG_SECRET"] == ""
    assert not state.current
    assert _snapshot(rendered) == before


def test_commands_that_read_the_stack_change_no_file(rendered):
    """`supabase keys` and `accounts` went through render_stack: they rewrote .env and build/."""
    append_env(rendered, {"WEBUI_NAME": "Edited", "SEARXNG_SECRET": ""})
    before = _snapshot(rendered)
    for command in (["supabase", "keys"], ["accounts"]):
        result = run_start(rendered, *command)
        assert _snapshot(rendered) == before, command
        assert result.returncode == 2, result.stdout + result.stderr
        assert "changed since the last `start.py` run; run `start.py` to apply it first" in result.stderr


def test_an_unchanged_stack_reads_as_current(rendered):
    before = _snapshot(rendered)
    state = store.applied(rendered, rendered / "build")
    assert state.current and state.settings.values == store.load(rendered).values
    result = run_start(rendered, "supabase", "keys")
    assert result.returncode == 0, result.stderr
    assert _snapshot(rendered) == before


def test_an_edited_project_name_still_names_the_applied_project(rendered):
    old = read_env_file(rendered / ".env")["PROJECT_NAME"]
    append_env(rendered, {"PROJECT_NAME": "renamed"})
    state = store.applied(rendered, rendered / "build")
    assert not state.current and state.settings.project == old
    assert "run `start.py` to apply" in state.warning()
    with pytest.raises(ConfigError, match="run `start.py` to apply it first"):
        state.require_current()


def test_a_typo_falls_back_to_the_applied_state(rendered):
    append_env(rendered, {"WEBUI_PORT": "30o0"})
    state = store.applied(rendered, rendered / "build")
    assert not state.current and state.settings["WEBUI_PORT"] == "3000"
    assert "WEBUI_PORT: '30o0' is not a port number" in state.warning()
    with pytest.raises(ConfigError, match="WEBUI_PORT: '30o0' is not a port number"):
        state.require_current()
    (rendered / "build" / store.APPLIED_FILE).unlink()  # nothing applied to fall back to: the one line
    with pytest.raises(ConfigError, match="WEBUI_PORT: '30o0' is not a port number"):
        store.applied(rendered, rendered / "build")


def test_the_record_holds_no_secret_and_is_deterministic(rendered):
    record = (rendered / "build" / store.APPLIED_FILE).read_bytes()
    for key, value in read_env_file(rendered / ".env").items():
        if key in store.SECRET_KEYS and value:
            assert value.encode() not in record, key
    data = json.loads(record)
    assert data["project"] == "localai" and data["digest"] == store.digest(store.load(rendered))
    before = _snapshot(rendered)
    assert run_start(rendered, "render").returncode == 0
    assert _snapshot(rendered) == before


def test_secrets_stay_masked_when_env_has_a_typo(rendered):
    """status/logs of a stack whose .env does not validate still mask the secrets it holds."""
    secret = read_env_file(rendered / ".env")["DASHBOARD_PASSWORD"]
    append_env(rendered, {"WEBUI_PORT": "30o0"})
    redact._known.discard(secret)
    state = store.applied(rendered, rendered / "build")
    assert state.invalid
    assert secret not in redact.scrub(f"a service printed {secret}")
