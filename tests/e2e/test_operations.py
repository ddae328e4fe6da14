"""Operations on one real stack, in order: plain `start.py`, log masking, restart, models pull/rm,
supabase keys, backup and restore (onto a fresh folder, a refused archive, across a rotation), every
rotatable secret end to end (all in one `secrets rotate`), faults at start, `update`, and last the
secret-hygiene check over every start.py output kept on the way.

One stack for all of them: every full `up` costs a minute or two of the 2-core CI machine, and each
of these tests leaves the stack up and working for the next (a failure shows in the one after, too).
Profile none against an Ollama on the host network has a stack of its own (test_commands.py).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time

import jwt
import pytest
import requests

from stack.config.schema import SECRET_KEYS
from stack.config.secrets import ROTATABLE
from tests.conftest import read_env_file
from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, assert_ok, docker, make_stack

# Rotations that need the full Supabase set (analytics) or public mode (Caddy basic auth):
# covered in test_full_set.py / test_public_stack.py.
PRIVATE_CORE_ROTATIONS = sorted(set(ROTATABLE) - {"LOGFLARE_PUBLIC_ACCESS_TOKEN", "LOGFLARE_PRIVATE_ACCESS_TOKEN",
                                                 "CADDY_BASIC_AUTH_PASSWORD"})

OUTPUTS: list[str] = []
PROCESS_ARGS: list[str] = []


@pytest.fixture(scope="module")
def ops_stack(tmp_path_factory):
    stack = make_stack(tmp_path_factory, "ops", PRIVATE_PORTS)
    try:
        yield stack
    finally:
        stack.destroy()


def start(stack, *args, timeout=900):
    result = stack.start(*args, timeout=timeout)
    OUTPUTS.append(result.stdout + result.stderr)
    return result


def _snapshot_process_args() -> None:
    PROCESS_ARGS.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)


def _model_files(stack) -> str:
    return stack.exec("ollama", "sh", "-c", "cd /root/.ollama/models && find . -type f | sort | xargs sha256sum")


def _env(stack) -> dict[str, str]:
    return read_env_file(stack.root / ".env")


def _note(stack, table: str) -> str:
    return stack.exec("db", "psql", "-U", "postgres", "-tAc", f"SELECT note FROM {table}").strip()


def _psql_tcp(stack, user: str, password: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
    """A password login over TCP, not over the container's local socket."""
    cid = stack.containers()["db"]["Id"]
    return subprocess.run(["docker", "exec", "-e", "PGPASSWORD", cid, "psql", "-h", "db", "-U", user, "-d",
                           database, "-tAc", "SELECT current_user"],
                          env={**os.environ, "PGPASSWORD": password}, capture_output=True, text=True, timeout=60)


def test_plain_start_py_brings_the_stack_up(ops_stack):
    result = start(ops_stack, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Local AI Stack is ready" in result.stdout
    _snapshot_process_args()


LEAK_PROBE = "e2e-leak-probe:"


def test_logs_mask_a_secret_that_a_service_prints(ops_stack):
    """A service that logs a secret: `start.py logs` must show it masked (the scrub really runs)."""
    # as the image's own user (PID 1's): root without CAP_SYS_PTRACE may not open another uid's fds
    ops_stack.exec("n8n", "sh", "-c", f'echo "{LEAK_PROBE}$DB_POSTGRESDB_PASSWORD" > /proc/1/fd/1')
    secret = read_env_file(ops_stack.root / ".env")["N8N_DB_PASSWORD"]
    deadline = time.monotonic() + 30
    while True:
        result = start(ops_stack, "logs", "n8n", "--tail", "50")
        if LEAK_PROBE in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert result.returncode == 0, result.stderr
    assert f"{LEAK_PROBE}***" in result.stdout, result.stdout[-2000:]
    assert secret not in result.stdout + result.stderr


def test_restart_one_service_restarts_only_it(ops_stack):
    before = {s: c["State"]["StartedAt"] for s, c in ops_stack.containers().items()}
    assert_ok(start(ops_stack, "restart", "searxng"))
    after = {s: c["State"]["StartedAt"] for s, c in ops_stack.containers().items()}
    assert after["searxng"] != before["searxng"]
    assert {s: t for s, t in after.items() if s != "searxng"} == {s: t for s, t in before.items() if s != "searxng"}


def test_models_pull_then_rm(ops_stack):
    result = start(ops_stack, "models", "pull", "all-minilm")
    assert_ok(result)
    assert "all-minilm: pulled" in result.stdout
    assert "all-minilm" in start(ops_stack, "models", "list").stdout
    result = start(ops_stack, "models", "rm", "all-minilm")
    assert_ok(result)
    assert "all-minilm: removed" in result.stdout
    assert "all-minilm" not in start(ops_stack, "models", "list").stdout


def test_supabase_keys_prints_keys_signed_with_the_secret(ops_stack):
    result = ops_stack.start("supabase", "keys")  # prints keys on purpose: not kept for the hygiene check
    assert_ok(result)
    printed = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    secret = _env(ops_stack)["JWT_SECRET"]
    assert printed["SUPABASE_URL"] == f"http://127.0.0.1:{PRIVATE_PORTS['SUPABASE_PORT']}"
    assert jwt.decode(printed["SUPABASE_ANON_KEY"], secret, algorithms=["HS256"])["role"] == "anon"
    assert jwt.decode(printed["SUPABASE_SERVICE_ROLE_KEY"], secret, algorithms=["HS256"])["role"] == "service_role"


def test_restore_onto_a_fresh_folder_brings_everything_back(ops_stack, tmp_path):
    """Where backups are really needed: a new machine, i.e. the same checkout with no .env, no state
    file, no build/ and no volumes. The archive's .env and its database travel together."""
    ops_stack.exec("db", "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-c",
                   "CREATE TABLE e2e_backup (note text); INSERT INTO e2e_backup VALUES ('from before');")
    ops_stack.exec("n8n", "sh", "-c", "echo precious > /home/node/.n8n/e2e-data.txt")
    models_before = _model_files(ops_stack)
    assert "manifests" in models_before
    secrets_before = {k: v for k, v in _env(ops_stack).items() if k in SECRET_KEYS}

    archive = tmp_path / "backup.tar"
    result = start(ops_stack, "backup", str(archive))
    assert result.returncode == 0, result.stderr
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert {"env", "postgres.sql", "volumes/n8n_data.tar", "volumes/ollama_data.tar"} <= set(manifest["sha256"])

    assert start(ops_stack, "down", "--volumes", "--yes").returncode == 0
    for name in (".env", ".localai-state.json"):
        (ops_stack.root / name).unlink(missing_ok=True)
    shutil.rmtree(ops_stack.root / "build", ignore_errors=True)
    volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={ops_stack.project}")
    assert volumes.stdout.split() == []

    result = start(ops_stack, "restore", str(archive), "--yes", timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert _note(ops_stack, "e2e_backup") == "from before"
    assert ops_stack.exec("n8n", "cat", "/home/node/.n8n/e2e-data.txt").strip() == "precious"
    assert _model_files(ops_stack) == models_before
    assert {k: v for k, v in _env(ops_stack).items() if k in SECRET_KEYS} == secrets_before
    pytest.archive = archive  # for the next test


def test_truncated_archive_is_refused_and_nothing_changes(ops_stack, tmp_path):
    data = pytest.archive.read_bytes()
    broken = tmp_path / "truncated.tar"
    broken.write_bytes(data[: len(data) // 2])
    env_before = (ops_stack.root / ".env").read_bytes()
    ids_before = {s: c["Id"] for s, c in ops_stack.containers().items()}
    result = start(ops_stack, "restore", str(broken), "--yes")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and ("truncated" in lines[0] or "checksum" in lines[0]), result.stderr
    assert (ops_stack.root / ".env").read_bytes() == env_before
    assert {s: c["Id"] for s, c in ops_stack.containers().items()} == ids_before


def test_restore_across_a_rotation_brings_the_old_secrets_and_data_back(ops_stack, tmp_path):
    """Restoring must not trip over the folder's record of which secrets the database was created with."""
    ops_stack.exec("db", "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-c",
                   "CREATE TABLE e2e_restore (note text); INSERT INTO e2e_restore VALUES ('kept');")
    archive = tmp_path / "before-rotation.tar"
    assert_ok(start(ops_stack, "backup", str(archive)))
    old = _env(ops_stack)
    assert_ok(start(ops_stack, "secrets", "rotate", "POSTGRES_PASSWORD", "--yes", timeout=1200))
    rotated = _env(ops_stack)
    assert rotated["POSTGRES_PASSWORD"] != old["POSTGRES_PASSWORD"]
    ops_stack.exec("db", "psql", "-U", "postgres", "-c", "UPDATE e2e_restore SET note = 'after rotation'")

    result = start(ops_stack, "restore", str(archive), "--yes", timeout=1200)
    assert_ok(result)
    assert "not the one the existing database was created with" not in result.stderr
    assert _note(ops_stack, "e2e_restore") == "kept"
    assert _env(ops_stack)["POSTGRES_PASSWORD"] == old["POSTGRES_PASSWORD"]
    # and the stack keeps working with the archive's secrets: a second up is clean
    assert_ok(start(ops_stack, "up", "--timeout", UP_TIMEOUT, "--no-pull"))


def test_every_rotatable_secret_rotates_at_once_and_the_stack_keeps_working(ops_stack):
    """All of them in one `secrets rotate`: each is changed where it lives, and one `up` applies them."""
    old = _env(ops_stack)
    result = start(ops_stack, "secrets", "rotate", *PRIVATE_CORE_ROTATIONS, "--yes", timeout=1200)
    assert_ok(result)
    new = _env(ops_stack)
    for key in PRIVATE_CORE_ROTATIONS:
        assert new[key] != old[key], key
        assert old[key] not in result.stdout + result.stderr, key
        assert f"{key}: rotated (" in result.stdout, result.stdout
    states = ops_stack.containers()
    assert all(c["State"]["Status"] == "running" for c in states.values()), {s: c["State"]["Status"]
                                                                           for s, c in states.items()}
    assert_ok(start(ops_stack, "supabase", "check"))
    # JWT_SECRET: the API keys are signed again, and PostgREST takes only the new ones
    url = f"http://127.0.0.1:{PRIVATE_PORTS['SUPABASE_PORT']}/rest/v1/rpc/localai_whoami"

    def whoami(key: str) -> requests.Response:
        return requests.post(url, json={}, timeout=10, headers={"apikey": key, "Authorization": f"Bearer {key}"})

    assert whoami(old["ANON_KEY"]).status_code == 401
    answer = whoami(new["ANON_KEY"])
    assert answer.status_code == 200 and answer.json() == "anon", answer.text
    # the database passwords changed in the database too
    for user, key, database in (("supabase_admin", "POSTGRES_PASSWORD", "postgres"),
                                ("n8n", "N8N_DB_PASSWORD", "n8n")):
        assert _psql_tcp(ops_stack, user, new[key], database).returncode == 0, key
        assert _psql_tcp(ops_stack, user, old[key], database).returncode != 0, key
    # Studio's basic auth at Kong
    url = f"http://127.0.0.1:{PRIVATE_PORTS['SUPABASE_PORT']}/"
    user = new["DASHBOARD_USERNAME"]
    assert requests.get(url, auth=(user, old["DASHBOARD_PASSWORD"]), timeout=10).status_code == 401
    answer = requests.get(url, auth=(user, new["DASHBOARD_PASSWORD"]), timeout=10, allow_redirects=False)
    assert answer.status_code < 400


def test_port_taken_start_fails_clearly_and_starts_nothing(ops_stack):
    assert start(ops_stack, "down").returncode == 0
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", int(PRIVATE_PORTS["WEBUI_PORT"])))
        blocker.listen()
        result = start(ops_stack, "up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: port {PRIVATE_PORTS['WEBUI_PORT']} (WEBUI_PORT) is already in use by another "
                      "program; nothing was started"], result.stderr
    assert ops_stack.containers() == {}


def test_interrupted_up_is_recovered_by_the_next_up(ops_stack):
    env = {**os.environ, "LOCALAI_NO_VENV": "1"}
    # Ctrl-C must reach it as at a terminal: a run started in the background by a shell (`bash .ci/run &`)
    # ignores SIGINT, the child inherits that, and Python keeps an ignored SIGINT ignored.
    proc = subprocess.Popen([sys.executable, "start.py", "up", "--timeout", UP_TIMEOUT], cwd=ops_stack.root,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Interrupt it in the middle: once the readiness wait reports a container starting. (Waiting for
    # containers to appear in `docker ps` raced: on a warm engine this `up` was ready in 24 s, before
    # the poll saw them, and the signal came after it had finished.)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if ": container starting" in line:
            break
    _snapshot_process_args()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    err = "".join(seen) + err
    OUTPUTS.append(out + err)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    result = start(ops_stack, "up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]


def test_update_backs_up_first_and_recreates_nothing_unchanged(ops_stack):
    ids_before = {s: c["Id"] for s, c in ops_stack.containers().items()}
    result = start(ops_stack, "update")
    assert result.returncode == 0, result.stderr[-3000:]
    archives = list((ops_stack.root / "backups").glob("*.tar"))
    assert len(archives) == 1 and "Roll back" in result.stdout
    assert {s: c["Id"] for s, c in ops_stack.containers().items()} == ids_before


def test_no_secret_in_rendered_files_logs_outputs_or_process_args(ops_stack):
    assert start(ops_stack, "logs", "--tail", "100").returncode == 0
    assert start(ops_stack, "status").returncode == 0
    secrets = {k: v for k, v in read_env_file(ops_stack.root / ".env").items() if k in SECRET_KEYS and v}
    assert len(secrets) == len(SECRET_KEYS)
    haystacks: dict[str, str] = {}
    for path in (ops_stack.root / "build").rglob("*"):
        if path.is_file():
            haystacks[f"build/{path.relative_to(ops_stack.root / 'build')}"] = path.read_text(errors="replace")
    for service, info in ops_stack.containers().items():
        logs = subprocess.run(["docker", "logs", info["Id"]], capture_output=True, text=True, timeout=60)
        # the line the masking test planted is the service's own print, not ours
        own = [line for line in (logs.stdout + logs.stderr).splitlines() if LEAK_PROBE not in line]
        haystacks[f"logs of {service}"] = "\n".join(own)
        haystacks[f"argv of {service}"] = " ".join([info["Path"], *info["Args"]])
    for index, text in enumerate(OUTPUTS):
        haystacks[f"start.py output #{index}"] = text
    for index, text in enumerate(PROCESS_ARGS):
        haystacks[f"process list #{index}"] = text
    leaks = [(key, where) for key, value in secrets.items() for where, text in haystacks.items() if value in text]
    assert not leaks, f"secrets found: {leaks}"
    assert len(OUTPUTS) >= 6 and len(PROCESS_ARGS) >= 2
