"""`update` on a stack created with the old pins: its Postgres 15 data volume moves to Postgres 17.

A real Postgres 15 (localai-test/postgres15, Debian bookworm) and a real Postgres 17
(localai-test/postgres, Debian trixie), both keeping the supabase/postgres contract. Tests run in
order on one stack:
1. the stack comes up on Postgres 15 and data is written everywhere it lives;
2. with the Postgres 15 image gone, `update` refuses and changes nothing (and `up` refuses too);
3. an extension Postgres 17 lacks is refused while the stack runs on, untouched;
   a move that would lose a view puts the Postgres 15 data back;
4. without that view, `update` moves the volume to 17: every row, role and database is there, n8n and
   Open WebUI keep their data, the old volume is kept and named, the rollback is printed;
5. the printed rollback brings Postgres 15 and the old data back.
"""
from __future__ import annotations

import json
import secrets
import shlex

import pytest

from tests.conftest import append_env, read_env_file
from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, docker, image, make_stack

OLD_IMAGE = image("postgres15")
NEW_IMAGE = image("postgres")
NOTES = 2000
PSQL = ("psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "localhost", "-U", "supabase_admin", "-tA")


@pytest.fixture(scope="module")
def upgrade_stack(tmp_path_factory):
    # The stack runs the old image under a tag of its own, so the test can take that tag away.
    old_tag = f"localai-test/postgres15-upg{secrets.token_hex(3)}:dev"
    docker("tag", OLD_IMAGE, old_tag)
    stack = make_stack(tmp_path_factory, "upg", {**PRIVATE_PORTS, "SUPABASE_DB_IMAGE": old_tag})
    stack.old_tag = old_tag
    try:
        yield stack
    finally:
        stack.destroy()
        for vol in docker("volume", "ls", "-q", "--filter", f"label=localai.project={stack.project}").stdout.split():
            docker("volume", "rm", "-f", vol, check=False)
        docker("rmi", old_tag, check=False)


def sql(stack, query: str, database: str = "postgres") -> str:
    return stack.exec("db", *PSQL, "-d", database, "-c", query).strip()


def volumes(stack) -> list[str]:
    return sorted(v for v in docker("volume", "ls", "-q").stdout.split() if v.startswith(stack.project + "_"))


def pg_version(volume: str) -> str:
    return docker("run", "--rm", "--entrypoint", "cat", "-v", f"{volume}:/d:ro", NEW_IMAGE,
                  "/d/PG_VERSION").stdout.strip()


def set_db_image(stack, ref: str) -> None:
    append_env(stack.root, {"SUPABASE_DB_IMAGE": ref})


def snapshot(stack) -> dict[str, object]:
    return {
        "notes": sql(stack, "SELECT count(*), sum(id), md5(string_agg(note, ',' ORDER BY id)) FROM e2e_notes"),
        "n8n": sql(stack, "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM e2e_n8n_marker", "n8n"),
        "n8n_tables": sql(stack, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                                 "WHERE schemaname = 'public'", "n8n"),
        "roles": sql(stack, "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles "
                            "WHERE rolname NOT LIKE 'pg\\_%'"),
        "n8n_file": stack.exec("n8n", "cat", "/home/node/.n8n/e2e-upgrade.txt").strip(),
        "webui_file": stack.exec("open-webui", "cat", "/app/backend/data/e2e-upgrade.txt").strip(),
    }


def test_stack_on_postgres_15_with_data(upgrade_stack):
    result = upgrade_stack.start("up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sql(upgrade_stack, "SHOW server_version_num").startswith("15")
    sql(upgrade_stack, f"CREATE TABLE e2e_notes (id serial PRIMARY KEY, note text NOT NULL); "
                       f"INSERT INTO e2e_notes (note) SELECT 'note ' || g FROM generate_series(1, {NOTES}) g")
    # Written as the n8n role, in its own database, the way n8n writes its workflows.
    upgrade_stack.exec("db", "sh", "-c", "PGPASSWORD=\"$N8N_DB_PASSWORD\" psql -X -v ON_ERROR_STOP=1 -h localhost "
                       "-U n8n -d n8n -c \"CREATE TABLE e2e_n8n_marker (key text PRIMARY KEY, value text); "
                       "INSERT INTO e2e_n8n_marker VALUES ('workflow', 'kept'), ('credential', 'kept')\"")
    upgrade_stack.exec("n8n", "sh", "-c", "echo n8n-precious > /home/node/.n8n/e2e-upgrade.txt")
    upgrade_stack.exec("open-webui", "sh", "-c", "echo chats-precious > /app/backend/data/e2e-upgrade.txt")
    pytest.before = snapshot(upgrade_stack)
    assert pytest.before["notes"].startswith(f"{NOTES}|")
    assert pytest.before["n8n"] == "credential=kept,workflow=kept"


def test_without_the_postgres_15_image_update_refuses_and_changes_nothing(upgrade_stack):
    assert upgrade_stack.start("down").returncode == 0
    docker("rmi", upgrade_stack.old_tag)          # only the tag goes; the test image stays
    set_db_image(upgrade_stack, NEW_IMAGE)
    env_before = (upgrade_stack.root / ".env").read_bytes()
    volumes_before = volumes(upgrade_stack)

    result = upgrade_stack.start("update", "--timeout", UP_TIMEOUT, timeout=900)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:", "Traceback"))]
    assert len(errors) == 1, result.stderr
    assert "no Postgres 15 image" in errors[0] and upgrade_stack.old_tag in errors[0], errors
    assert "nothing was changed" in errors[0]

    result = upgrade_stack.start("up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 1
    assert "run `python start.py update`" in result.stderr, result.stderr[-2000:]

    assert (upgrade_stack.root / ".env").read_bytes() == env_before
    assert volumes(upgrade_stack) == volumes_before
    assert pg_version(f"{upgrade_stack.project}_db_data") == "15"
    assert upgrade_stack.containers() == {}


def test_an_extension_postgres_17_lacks_is_refused_before_anything_stops(upgrade_stack):
    docker("tag", OLD_IMAGE, upgrade_stack.old_tag)
    set_db_image(upgrade_stack, upgrade_stack.old_tag)
    result = upgrade_stack.start("up", "--timeout", UP_TIMEOUT)   # back on 15, running, as a user has it
    assert result.returncode == 0, result.stderr[-3000:]
    sql(upgrade_stack, "CREATE EXTENSION adminpack", "n8n")   # removed in PostgreSQL 17
    set_db_image(upgrade_stack, NEW_IMAGE)
    env_before = (upgrade_stack.root / ".env").read_bytes()
    ids_before = {s: c["Id"] for s, c in upgrade_stack.containers().items()}
    volumes_before = volumes(upgrade_stack)

    result = upgrade_stack.start("update", "--timeout", UP_TIMEOUT, timeout=900)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:", "Traceback"))]
    assert len(errors) == 1 and "adminpack (database n8n)" in errors[0] and "nothing was changed" in errors[0], errors
    assert {s: c["Id"] for s, c in upgrade_stack.containers().items()} == ids_before
    assert all(c["State"]["Running"] for c in upgrade_stack.containers().values())
    assert (upgrade_stack.root / ".env").read_bytes() == env_before
    assert volumes(upgrade_stack) == volumes_before
    assert not list((upgrade_stack.root / "backups").glob("*"))   # refused before the backup, too
    sql(upgrade_stack, "DROP EXTENSION adminpack", "n8n")
    set_db_image(upgrade_stack, upgrade_stack.old_tag)


def test_a_move_that_would_lose_something_puts_the_old_data_back(upgrade_stack):
    # A monitoring view on a column Postgres 17 moved to pg_stat_checkpointer: it cannot be restored.
    sql(upgrade_stack, "CREATE VIEW e2e_checkpoints AS SELECT buffers_checkpoint FROM pg_stat_bgwriter")
    set_db_image(upgrade_stack, NEW_IMAGE)

    failed = upgrade_stack.start("update", "--timeout", UP_TIMEOUT, timeout=1800)
    assert failed.returncode == 1, failed.stdout[-2000:] + failed.stderr[-3000:]
    error = next(line for line in failed.stderr.splitlines() if line.startswith("error:"))
    assert "view public.e2e_checkpoints" in error and "data was put back" in error, failed.stderr[-3000:]
    assert f"SUPABASE_DB_IMAGE={upgrade_stack.old_tag}" in failed.stderr
    assert pg_version(f"{upgrade_stack.project}_db_data") == "15"

    set_db_image(upgrade_stack, upgrade_stack.old_tag)
    result = upgrade_stack.start("up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert snapshot(upgrade_stack) == pytest.before
    sql(upgrade_stack, "DROP VIEW e2e_checkpoints")
    # The copy the failed attempt made stays until the user removes it.
    pytest.failed_kept = [v for v in volumes(upgrade_stack) if "_pg15_" in v]
    assert len(pytest.failed_kept) == 2
    assert next(v for v in pytest.failed_kept if "_db_data_" in v) in error


def test_update_moves_the_volume_to_postgres_17_and_loses_nothing(upgrade_stack):
    set_db_image(upgrade_stack, NEW_IMAGE)

    result = upgrade_stack.start("update", "--timeout", UP_TIMEOUT, timeout=1800)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert sql(upgrade_stack, "SHOW server_version_num").startswith("17")
    assert snapshot(upgrade_stack) == pytest.before
    assert pg_version(f"{upgrade_stack.project}_db_data") == "17"

    kept = [v for v in volumes(upgrade_stack) if v.startswith(f"{upgrade_stack.project}_db_data_pg15_")
            and v not in pytest.failed_kept]
    assert len(kept) == 1 and kept[0] in out
    assert pg_version(kept[0]) == "15"
    labels = json.loads(docker("volume", "inspect", kept[0]).stdout)[0]["Labels"]
    assert "com.docker.compose.project" not in labels   # `down --volumes` does not take it
    assert "Roll back to Postgres 15" in result.stdout
    assert f"in .env set SUPABASE_DB_IMAGE={upgrade_stack.old_tag}" in result.stdout
    pytest.rollback = [line.strip() for line in result.stdout.splitlines()]
    secret_values = [v for k, v in read_env_file(upgrade_stack.root / ".env").items() if "PASSWORD" in k and v]
    assert not [v for v in secret_values if v in out]


def test_the_printed_rollback_brings_postgres_15_and_the_old_data_back(upgrade_stack):
    lines = pytest.rollback
    start = lines.index("python start.py down")
    steps = lines[start:lines.index("python start.py up") + 1]
    sql(upgrade_stack, "INSERT INTO e2e_notes (note) VALUES ('written on 17')")
    for step in steps:
        if step.startswith("python start.py "):
            args = step.split()[2:] + (["--timeout", UP_TIMEOUT] if step.endswith(" up") else [])
            result = upgrade_stack.start(*args)
            assert result.returncode == 0, result.stderr[-3000:]
        elif step.startswith("in .env set "):
            key, _, value = step.removeprefix("in .env set ").partition("=")
            append_env(upgrade_stack.root, {key: value})
        else:
            argv = shlex.split(step)
            assert argv[0] == "docker"
            docker(*argv[1:], timeout=600)
    assert sql(upgrade_stack, "SHOW server_version_num").startswith("15")
    assert snapshot(upgrade_stack) == pytest.before
