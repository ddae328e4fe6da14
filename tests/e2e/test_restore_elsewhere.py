"""Restore where backups are really needed: a fresh folder (a new machine) and after a rotation.

The archive's .env and its database travel together; restoring must not trip over the current
folder's record of which secrets the database was created with.
"""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import read_env_file
from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, assert_ok, docker, make_stack


@pytest.fixture
def stack(tmp_path_factory):
    """A stack of its own for each test: one's failure cannot leave the other a broken folder."""
    made = make_stack(tmp_path_factory, "rst", PRIVATE_PORTS)
    try:
        yield made
    finally:
        made.destroy()

def _note(stack) -> str:
    return stack.exec("db", "psql", "-U", "postgres", "-tAc", "SELECT note FROM e2e_restore").strip()

def test_restore_onto_a_fresh_folder_brings_everything_back(stack, tmp_path):
    assert_ok(stack.start("up", "--timeout", UP_TIMEOUT, "--no-pull"))
    stack.exec("db", "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-c",
               "CREATE TABLE e2e_restore (note text); INSERT INTO e2e_restore VALUES ('kept');")
    stack.exec("n8n", "sh", "-c", "echo precious > /home/node/.n8n/e2e-restore.txt")
    archive = tmp_path / "before.tar"
    assert_ok(stack.start("backup", str(archive)))
    env_before = read_env_file(stack.root / ".env")

    # A new machine: the same checkout, no .env, no state file, no build/, no volumes.
    assert_ok(stack.start("down", "--volumes", "--yes"))
    for name in (".env", ".localai-state.json"):
        (stack.root / name).unlink(missing_ok=True)
    shutil.rmtree(stack.root / "build", ignore_errors=True)
    assert docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={stack.project}"
                  ).stdout.split() == []

    assert_ok(stack.start("restore", str(archive), "--yes", timeout=1200))
    assert _note(stack) == "kept"
    assert stack.exec("n8n", "cat", "/home/node/.n8n/e2e-restore.txt").strip() == "precious"
    assert read_env_file(stack.root / ".env")["POSTGRES_PASSWORD"] == env_before["POSTGRES_PASSWORD"]

def test_restore_across_a_rotation_brings_the_old_secrets_and_data_back(stack, tmp_path):
    assert_ok(stack.start("up", "--timeout", UP_TIMEOUT, "--no-pull"))
    stack.exec("db", "psql", "-U", "postgres", "-c",
               "CREATE TABLE IF NOT EXISTS e2e_restore (note text); DELETE FROM e2e_restore; "
               "INSERT INTO e2e_restore VALUES ('kept');")
    archive = tmp_path / "before-rotation.tar"
    assert_ok(stack.start("backup", str(archive)))
    old = read_env_file(stack.root / ".env")
    assert_ok(stack.start("secrets", "rotate", "POSTGRES_PASSWORD", "--yes", timeout=1200))
    rotated = read_env_file(stack.root / ".env")
    assert rotated["POSTGRES_PASSWORD"] != old["POSTGRES_PASSWORD"]
    stack.exec("db", "psql", "-U", "postgres", "-c", "UPDATE e2e_restore SET note = 'after rotation'")

    result = stack.start("restore", str(archive), "--yes", timeout=1200)
    assert_ok(result)
    assert "not the one the existing database was created with" not in result.stderr
    assert _note(stack) == "kept"
    assert read_env_file(stack.root / ".env")["POSTGRES_PASSWORD"] == old["POSTGRES_PASSWORD"]
    # and the stack keeps working with the archive's secrets: a second up is clean
    assert_ok(stack.start("up", "--timeout", UP_TIMEOUT, "--no-pull"))
