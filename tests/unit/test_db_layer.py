"""The database layer as rendered: what the db container gets, and what our init SQL creates."""
from __future__ import annotations

import re

import yaml

from stack.config.secrets import IN_DATABASE
from stack.config.store import prepare
from stack.ops import dbstate
from tests.conftest import run_start


def _render(project):
    assert run_start(project, "render").returncode == 0
    return project / "build"


def test_the_jwt_secret_is_never_stored_in_the_database(project):
    """A database setting is readable by every role that connects (pg_db_role_setting), so the JWT
    secret must not be one (supabase/supabase issue 43513, PR 45003); the db does not get it."""
    build = _render(project)
    for path in (build / "supabase" / "db").glob("*.sql"):
        code = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
        assert "jwt_secret" not in code.lower(), path.name
    db = yaml.safe_load((build / "docker-compose.yml").read_text())["services"]["db"]
    assert "JWT_SECRET" not in db["environment"]
    assert "JWT_SECRET" not in IN_DATABASE


def test_realtime_admin_role_is_left_to_realtime(project):
    """Realtime's migrations create supabase_realtime_admin when missing (supabase/realtime v2.129.8
    lib/realtime/tenants/repo/migrations/20240401105812_create_realtime_admin_and_move_ownership.ex
    :11-17, 20260707120000_restrict_realtime_schema.ex:11-12); a copy with our flags would shadow it."""
    build = _render(project)
    for path in (build / "supabase" / "db").glob("*.sql"):
        code = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
        assert not re.search(r"supabase_realtime_admin", code), path.name


def test_our_psql_runs_as_the_images_superuser():
    """supabase/postgres demotes postgres; our psql and pg_dumpall run as supabase_admin."""
    assert dbstate.admin_psql("postgres")[:3] == ["psql", "-U", "supabase_admin"]
    assert dbstate.admin_psql("postgres", "pg_dumpall")[:3] == ["pg_dumpall", "-U", "supabase_admin"]


def test_what_a_step_remembers_survives_the_database_record(project):
    """n8n's credentials fingerprint (stack/ops/n8n_setup.py) and the database record share the state file."""
    assert run_start(project, "render").returncode == 0
    settings = prepare(project, {}).settings
    assert dbstate.remembered(settings, "n8n_credentials") is None
    dbstate.remember(settings, "n8n_credentials", "abc")
    dbstate.record(settings)
    dbstate.remember(settings, "other", "def")
    assert dbstate.remembered(settings, "n8n_credentials") == "abc"
    assert dbstate.remembered(settings, "other") == "def"
    assert dbstate.recorded_db_image(settings) == settings.image("SUPABASE_DB_IMAGE")
    assert dbstate.load(settings)
    assert oct((project / dbstate.STATE_FILE).stat().st_mode & 0o777) == "0o600"
    renamed = type(settings)(root=settings.root, values={**settings.values, "PROJECT_NAME": settings.project + "x"})
    assert dbstate.remembered(renamed, "n8n_credentials") is None  # another project's state is not ours
