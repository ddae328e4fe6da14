"""The decisions of the Postgres major-version move (stack/ops/pgupgrade.py), without Docker.

The Docker steps themselves (stack/ops/pgmove.py) run for real in tests/e2e/test_upgrade.py.
"""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from stack.ops import pgfacts, pgmove
from stack.ops.pgupgrade import Facts, Plan

GIB = 1024 * 1024  # KiB


def _plan(**kw: object) -> Plan:
    values: dict[str, object] = dict(project="demo", volume_major=15, new_major=17,
                                     old_image="supabase/postgres:15.8.1.085",
                                     old_image_name="supabase/postgres:15.8.1.085",
                                     new_image="supabase/postgres:17.6.1.136", stamp="20261201120000")
    values.update(kw)
    return Plan(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "major"), [
    ("postgres (PostgreSQL) 17.6\n", 17),
    ("postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)\n", 15),
    ("15\n", 15),
    ("9.6\n", None),            # PG_VERSION of a pre-10 cluster: not a version we can name a major for
    ("sh: postgres: not found", None),
    ("", None),
])
def test_parse_major(text: str, major: int | None) -> None:
    assert pgfacts.parse_major(text) == major


def test_kept_volume_names_say_what_and_when() -> None:
    plan = _plan()
    assert plan.data_volume == "demo_db_data"
    assert plan.config_volume == "demo_db_config"
    assert plan.kept_data == "demo_db_data_pg15_20261201120000"
    assert plan.kept_config == "demo_db_config_pg15_20261201120000"


def test_disk_needs_room_for_the_kept_copy_and_the_new_cluster() -> None:
    where = Path("/srv/stack/backups")
    assert pgfacts.disk_problem(10 * GIB, 22 * GIB, 11 * GIB, where) is None
    docker = pgfacts.disk_problem(10 * GIB, 20 * GIB, 100 * GIB, where)
    assert docker and "Docker's disk" in docker and "21.0 GiB needed" in docker and "20.0 GiB free" in docker
    host = pgfacts.disk_problem(10 * GIB, 100 * GIB, 9 * GIB, where)
    assert host and str(where) in host and "dump" in host


def test_compare_finds_lost_rows_tables_roles_and_databases() -> None:
    before = Facts(major=15, databases=["n8n", "postgres"], roles=["n8n", "supabase_admin"],
                   rows={"postgres:public.notes": 3, "n8n:public.workflow_entity": 1, "postgres:auth.users": 2})
    same = Facts(major=17, databases=["_new", "n8n", "postgres"], roles=["n8n", "new_role", "supabase_admin"],
                 rows={**before.rows, "postgres:public.added_by_init": 4})
    assert pgfacts.compare(before, same) == ([], [])

    after = Facts(major=17, databases=["postgres"], roles=["supabase_admin"],
                  rows={"postgres:public.notes": 2, "postgres:auth.users": 5})
    lost, grew = pgfacts.compare(before, after)
    assert lost == ["database n8n", "role n8n", "postgres:public.notes: 3 rows before, 2 after",
                    "table n8n:public.workflow_entity"]
    assert grew == ["postgres:auth.users: 2 rows before, 5 after"]


def test_compare_finds_lost_views_functions_and_policies() -> None:
    before = Facts(objects=["postgres:view public.v", "postgres:function public.f(integer)",
                            "postgres:policy public.notes.owner_only"])
    after = Facts(objects=["postgres:view public.v", "postgres:function public.f(integer)",
                           "postgres:function public.new_in_17()"])
    assert pgfacts.compare(before, after) == (["postgres:policy public.notes.owner_only"], [])


def test_only_unexpected_restore_errors_are_reported() -> None:
    log = "\n".join([
        'ERROR:  role "anon" cannot be dropped because some objects depend on it',
        "DETAIL:  privileges for schema public",
        "ERROR:  current user cannot be dropped",
        'ERROR:  role "supabase_admin" already exists',
        'ERROR:  extension "plv8" is not available',
        'ERROR:  role "x" already exists; and more',
    ])
    assert pgfacts.unexpected_errors(log) == ['ERROR:  extension "plv8" is not available',
                                                'ERROR:  role "x" already exists; and more']


def test_extensions_postgres_17_lacks_are_named_with_their_database() -> None:
    facts = Facts(extensions={"postgres": ["plpgsql", "plv8", "vector"], "n8n": ["plpgsql", "timescaledb"]})
    assert pgfacts.gone_extensions(facts, 17) == ["plv8 (database postgres)", "timescaledb (database n8n)"]
    assert pgfacts.gone_extensions(facts, 16) == []
    assert pgfacts.gone_extensions(Facts(extensions={"postgres": ["vector"]}), 17) == []


def test_old_image_candidates_prefer_the_container_then_the_record_then_the_old_pin() -> None:
    container = [("sha256:abc", "localai-test/postgres15:dev")]
    found = pgfacts.candidates(container, "registry.local/postgres:15.8", 15)
    assert found == [("localai-test/postgres15:dev", "localai-test/postgres15:dev"),
                     ("sha256:abc", "localai-test/postgres15:dev"),
                     ("registry.local/postgres:15.8", "registry.local/postgres:15.8"),
                     ("supabase/postgres:15.8.1.085", "supabase/postgres:15.8.1.085")]
    # Nothing known: only the old default pin; a major we never shipped: nothing at all.
    assert pgfacts.candidates([], None, 15) == [("supabase/postgres:15.8.1.085",) * 2]
    assert pgfacts.candidates([], None, 14) == []
    # The same image twice is tried once.
    assert pgfacts.candidates([], "supabase/postgres:15.8.1.085", 15) == [("supabase/postgres:15.8.1.085",) * 2]


def test_copy_command_replaces_the_target_with_an_exact_copy() -> None:
    argv = pgfacts.copy_command("img:15", "a_kept", "a_db_data")
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[argv.index("a_kept:/from:ro") - 1] == "-v"
    assert "a_db_data:/to" in argv and "--network" in argv and argv[argv.index("--network") + 1] == "none"
    assert argv[-1] == "find /to -mindepth 1 -delete && cp -a /from/. /to/"


def test_rollback_text_gives_exact_commands_that_parse_back_to_the_copy_commands() -> None:
    plan = _plan()
    text = pgfacts.rollback_text(plan)
    lines = [line.strip() for line in text.splitlines()]
    assert "python start.py down" in lines
    assert "in .env set SUPABASE_DB_IMAGE=supabase/postgres:15.8.1.085" in lines
    assert "python start.py up" in lines
    docker_lines = [line for line in lines if line.startswith("docker run")]
    assert [shlex.split(line) for line in docker_lines] == [
        pgfacts.copy_command(plan.old_image_name, plan.kept_data, plan.data_volume),
        pgfacts.copy_command(plan.old_image_name, plan.kept_config, plan.config_volume)]
    assert lines.index("python start.py down") < lines.index(docker_lines[0]) < lines.index("python start.py up")
    assert f"docker volume rm {plan.kept_data} {plan.kept_config}" in text


def test_the_password_reaches_containers_by_name_only() -> None:
    flags = pgmove._env_flags()
    assert flags == ["-e", "PGPASSWORD", "-e", "POSTGRES_PASSWORD"]
    assert all("=" not in flag for flag in flags)
