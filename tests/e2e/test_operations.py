"""Operations on a real stack: backup/restore, refused archives, faults at start, secret hygiene.

Tests run in order on one stack; every start.py output is kept for the secret-hygiene check.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time

import pytest

from stack.config.schema import SECRET_KEYS
from tests.conftest import read_env_file
from tests.e2e.conftest import PRIVATE_PORTS, UP_TIMEOUT, docker, make_stack

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


def test_up(ops_stack):
    result = start(ops_stack, "up", "--timeout", UP_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
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


def test_backup_destroy_restore_brings_everything_back(ops_stack, tmp_path):
    ops_stack.exec("db", "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-c",
                   "CREATE TABLE e2e_backup (note text); INSERT INTO e2e_backup VALUES ('from before');")
    ops_stack.exec("n8n", "sh", "-c", "echo precious > /home/node/.n8n/e2e-data.txt")
    models_before = _model_files(ops_stack)
    assert "manifests" in models_before

    archive = tmp_path / "backup.tar"
    result = start(ops_stack, "backup", str(archive))
    assert result.returncode == 0, result.stderr
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert {"env", "postgres.sql", "volumes/n8n_data.tar", "volumes/ollama_data.tar"} <= set(manifest["sha256"])

    assert start(ops_stack, "down", "--volumes", "--yes").returncode == 0
    volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={ops_stack.project}")
    assert volumes.stdout.split() == []

    result = start(ops_stack, "restore", str(archive), "--yes")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = ops_stack.exec("db", "psql", "-U", "postgres", "-tAc", "SELECT note FROM e2e_backup")
    assert rows.strip() == "from before"
    assert ops_stack.exec("n8n", "cat", "/home/node/.n8n/e2e-data.txt").strip() == "precious"
    assert _model_files(ops_stack) == models_before
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
