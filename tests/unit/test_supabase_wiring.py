"""The rendered Supabase services against Supabase's own docker/ compose at the pinned set
(supabase/supabase @ 1f37f2a9): what upstream removed stays removed, what Kong needs is enabled."""
from __future__ import annotations

import yaml

from tests.conftest import append_env, run_start


def _render(project):
    append_env(project, {"SUPABASE_SERVICES": "full"})
    result = run_start(project, "render")
    assert result.returncode == 0, result.stderr
    build = project / "build"
    return yaml.safe_load((build / "docker-compose.yml").read_text())["services"], build


def test_postgrest_no_longer_publishes_the_jwt_secret_as_an_app_setting(project):
    # supabase/supabase issue 43513, PR 45003: PGRST_APP_SETTINGS_JWT_SECRET ran
    # SET LOCAL app.settings.jwt_secret on every request, handing the signing key to SQL.
    services, _ = _render(project)
    rest = services["rest"]["environment"]
    assert "PGRST_APP_SETTINGS_JWT_SECRET" not in rest
    assert rest["PGRST_APP_SETTINGS_JWT_EXP"] and rest["PGRST_JWT_SECRET"] == "${JWT_SECRET}"


def test_kong_enables_every_plugin_its_config_uses_and_sends_no_reports(project):
    services, build = _render(project)
    env = services["kong"]["environment"]
    config = yaml.safe_load((build / "supabase" / "kong.yml").read_text())
    used = {p["name"] for s in config["services"] for p in s.get("plugins", [])}
    assert used <= set(env["KONG_PLUGINS"].split(","))
    assert config["_format_version"] == "3.0"
    # kong_defaults.lua @ 3.9.3: anonymous_reports = on (reports go to kong-hf.konghq.com).
    assert env["KONG_ANONYMOUS_REPORTS"] == "off"
    assert env["KONG_DECLARATIVE_CONFIG"].startswith("/usr/local/kong/")
    assert "exec /entrypoint.sh kong docker-start" in services["kong"]["entrypoint"][-1]


def test_functions_verify_jwt_and_kong_routes_them(project):
    services, build = _render(project)
    assert services["functions"]["environment"]["VERIFY_JWT"] == "true"
    assert services["functions"]["environment"]["JWT_SECRET"] == "${JWT_SECRET}"
    config = yaml.safe_load((build / "supabase" / "kong.yml").read_text())
    route = next(s for s in config["services"] if s["name"] == "functions-v1")
    assert route["url"] == "http://functions:9000/"
