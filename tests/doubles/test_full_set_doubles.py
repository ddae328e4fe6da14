"""The full set's doubles without Docker: Vector's config loading (interpolation exactly as
vectordotdev/vector src/config/vars.rs @ v0.53.0, exit 78), the pooler's `supavisor eval` check on a
tenant script, edge-runtime's command line, Logflare's boot checks."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.doubles.harness import IMAGES, base_env, run_cli

REPO = IMAGES.parents[1]


@pytest.fixture(scope="module")
def vector():
    sys.path.insert(0, str(IMAGES))
    spec = importlib.util.spec_from_file_location("vector_double", IMAGES / "supabase-vector" / "double.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        yield module
    finally:
        sys.path.remove(str(IMAGES))


def test_vector_interpolation_follows_vars_rs(vector):
    env = {"FOO": "dogs", "FOOBAR": "cats", "FOO.BAR": "turtles", "EMPTY": ""}
    # the cases of vars.rs's own unit test (src/config/vars.rs:87-140 @ v0.53.0)
    assert vector.interpolate("$FOO", env) == ("dogs", [])
    assert vector.interpolate("x${FOOBAR}y", env) == ("xcatsy", [])
    assert vector.interpolate("$$FOO", env) == ("$FOO", [])
    assert vector.interpolate("$FOO.BAR", env) == ("turtles", [])
    assert vector.interpolate("${FOO x", env) == ("${FOO x", [])
    assert vector.interpolate("${NOT:-dogcats}", env) == ("dogcats", [])
    assert vector.interpolate("${EMPTY-x}", env) == ("", [])
    assert vector.interpolate("${EMPTY:-x}", env) == ("x", [])
    assert vector.interpolate("x$FOOBARy", env)[1]
    assert vector.interpolate("${EMPTY?e}", env) == ("", [])           # `?` only needs it set
    assert vector.interpolate("${EMPTY:?e}", env)[1]                   # `:?` needs it non-empty
    assert vector.interpolate("${NOPE?is required}", env)[1] == [
        'Missing environment variable required in config. name = "NOPE", error = "is required"']


def test_vector_refuses_our_config_without_the_token_and_loads_it_with(tmp_path):
    rendered = (REPO / "templates" / "supabase" / "vector.yml").read_text().replace("{{ project }}", "p")
    config = tmp_path / "vector.yml"
    config.write_text(rendered)
    missing = run_cli("supabase-vector", "--config", str(config), env={}, home=tmp_path)
    assert missing.returncode == 78, missing.stderr
    assert "LOGFLARE_PUBLIC_ACCESS_TOKEN" in missing.stderr and missing.stderr.count("\n") == 1
    config.write_text(rendered.replace("inputs: [shaped]", "inputs: [shapd]"))
    typo = run_cli("supabase-vector", "--config", str(config), env={"LOGFLARE_PUBLIC_ACCESS_TOKEN": "t"},
                   home=tmp_path)
    assert typo.returncode == 78 and "doesn't match any components" in typo.stderr


def _pooler_eval(tmp_path, script: str, env: dict[str, str]):
    base = {"SECRET_KEY_BASE": "x" * 64, "DATABASE_URL": "ecto://u:p@127.0.0.1:1/db", "POOLER_TENANT_ID": "t",
            "POSTGRES_DB": "postgres", "POSTGRES_PASSWORD": "pw", **env}
    return run_cli("supabase-pooler", "eval", script, env=base, home=tmp_path, timeout=60)


def test_pooler_eval_needs_the_application_started_first(tmp_path):
    ours = (REPO / "templates" / "supabase" / "pooler.exs").read_text()
    without = ours.replace("{:ok, _apps} = Application.ensure_all_started(:supavisor)", "")
    result = _pooler_eval(tmp_path, without, {})
    assert result.returncode == 1
    assert "could not lookup Ecto repo Supavisor.Repo" in result.stderr
    # with the call first, the double gets as far as writing the tenant (no database here: MatchError)
    result = _pooler_eval(tmp_path, ours, {})
    assert result.returncode == 1 and "could not lookup Ecto repo" not in result.stderr
    assert "MatchError" in result.stderr


def test_pooler_eval_checks_the_tenant_like_the_changeset(tmp_path):
    ours = (REPO / "templates" / "supabase" / "pooler.exs").read_text()
    result = _pooler_eval(tmp_path, ours, {"POOLER_TENANT_ID": ""})
    assert result.returncode == 1 and "external_id: can't be blank" in result.stderr
    result = _pooler_eval(tmp_path, ours, {"POOLER_DEFAULT_POOL_SIZE": "twenty"})
    assert result.returncode == 1 and "not a textual representation of an integer" in result.stderr


def test_pooler_boot_checks(tmp_path):
    result = run_cli("supabase-pooler", "start", env={"DATABASE_URL": "ecto://u:p@127.0.0.1:1/db"}, home=tmp_path)
    assert result.returncode == 1 and "SECRET_KEY_BASE is missing" in result.stderr
    result = run_cli("supabase-pooler", "start", env={"SECRET_KEY_BASE": "x", "CLUSTER_POSTGRES": "true"},
                     home=tmp_path)
    assert result.returncode == 1 and "String.replace" in result.stderr


def _edge(tmp_path, *args: str):
    import subprocess

    script = IMAGES / "supabase-functions" / "edge_runtime.py"
    return subprocess.run([sys.executable, str(script), *args], env=base_env(tmp_path, {}), capture_output=True,
                          text=True, timeout=30)


def test_edge_runtime_command_line_like_clap(tmp_path):
    assert _edge(tmp_path, "start", "--no-such-flag").returncode == 2
    bad = _edge(tmp_path, "start", "--user-worker-request-idle-timeout", "soon")
    assert bad.returncode == 2 and "invalid value 'soon'" in bad.stderr
    assert _edge(tmp_path, "start", "--policy", "sometimes").returncode == 2
    missing = _edge(tmp_path, "start", "--main-service", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "main worker boot error" in missing.stderr


def test_logflare_boot_checks(tmp_path):
    result = run_cli("supabase-analytics", "start", env={"LOGFLARE_SINGLE_TENANT": "yes"}, home=tmp_path)
    assert result.returncode == 1 and "not an already existing atom" in result.stderr
    result = run_cli("supabase-analytics", "start", env={"LOGFLARE_FEATURE_FLAG_OVERRIDE": "multibackend"},
                     home=tmp_path)
    assert result.returncode == 1 and "LOGFLARE_FEATURE_FLAG_OVERRIDE" in result.stderr
    result = run_cli("supabase-analytics", "start", env={"DB_PORT": "x"}, home=tmp_path)
    assert result.returncode == 1 and "integer" in result.stderr


def test_pooler_migrate_reports_an_unreachable_database(tmp_path):
    result = run_cli("supabase-pooler", "eval", "Supavisor.Release.migrate",
                     env={"SECRET_KEY_BASE": "x", "DATABASE_URL": "ecto://u:p@127.0.0.1:1/db"}, home=tmp_path)
    assert result.returncode == 1 and "MatchError" in result.stderr
