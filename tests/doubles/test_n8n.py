"""The n8n double: encryption key settings file, health and readiness from a real database write,
import:workflow / import:credentials validation and their record."""
from __future__ import annotations

import json
from pathlib import Path

from tests.doubles.harness import PG_PASSWORD, free_port, run_cli, wait_for

STARTER = Path(__file__).resolve().parents[2] / "templates" / "n8n" / "starter-agent.json"


def _env(tmp_path, port: int, **extra: str) -> dict[str, str]:
    return {"N8N_USER_FOLDER": str(tmp_path), "N8N_PORT": str(port), "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_PROTOCOL": "http", "WEBHOOK_URL": "http://localhost:5678/", **extra}


def _pg_env(postgres, password: str = PG_PASSWORD) -> dict[str, str]:
    return {"DB_TYPE": "postgresdb", "DB_POSTGRESDB_HOST": "127.0.0.1", "DB_POSTGRESDB_PORT": str(postgres.port),
            "DB_POSTGRESDB_DATABASE": "n8n", "DB_POSTGRESDB_USER": "n8n", "DB_POSTGRESDB_PASSWORD": password}


def test_encryption_key_is_saved_and_a_different_one_refused(spawn, tmp_path):
    port = free_port()
    n8n = spawn("n8n", "start", env=_env(tmp_path, port, N8N_ENCRYPTION_KEY="first-key-0123456789"), port=port)
    assert n8n.get("/healthz").json() == {"status": "ok"}
    assert wait_for(lambda: n8n.get("/healthz/readiness").status == 200)
    config = tmp_path / ".n8n" / "config"
    assert json.loads(config.read_text()) == {"encryptionKey": "first-key-0123456789"}
    assert "first-key-0123456789" not in n8n.output()
    assert n8n.stop() == 0

    changed = run_cli("n8n", "start", env=_env(tmp_path, port, N8N_ENCRYPTION_KEY="second-key-0123456789"),
                      home=tmp_path, timeout=10)
    assert changed.returncode == 1
    assert changed.stderr.startswith(f"Mismatching encryption keys. The encryption key in the settings file {config} "
                                     "does not match the N8N_ENCRYPTION_KEY env var.")
    assert len(changed.stderr.strip().splitlines()) == 1 and "second-key" not in changed.stderr
    spawn("n8n", env=_env(tmp_path, port), port=port)  # no key given: the stored one is used


def test_readiness_follows_the_real_database(spawn, tmp_path, postgres):
    port = free_port()
    wrong = spawn("n8n", env=_env(tmp_path, port, **_pg_env(postgres, "wrong-password")), port=port)
    assert wrong.get("/healthz").status == 200
    assert wrong.get("/healthz/readiness").status == 503
    assert wrong.get("/").json() == {"code": 503, "message": "Database is not ready!"}
    assert "password authentication failed" in wait_for(lambda: wrong.output() if "failed" in wrong.output() else "")
    wrong.stop()

    n8n = spawn("n8n", env=_env(tmp_path, port, **_pg_env(postgres)), port=port)
    assert wait_for(lambda: n8n.get("/healthz/readiness").status == 200)
    assert n8n.get("/healthz/readiness").json() == {"status": "ok"}
    assert postgres.psql("SELECT count(*) FROM public.n8n_double_settings", database="n8n") == "1"
    assert PG_PASSWORD not in n8n.output()


def test_imports_validate_and_are_recorded(tmp_path, postgres):
    env = _env(tmp_path, free_port(), N8N_ENCRYPTION_KEY="import-key-0123456789", **_pg_env(postgres))
    done = run_cli("n8n", "import:workflow", f"--input={STARTER}", env=env, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Successfully imported 1 workflow." in done.stdout
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps([{"id": "a", "name": "Local Ollama", "type": "ollamaApi",
                                        "data": {"baseUrl": "http://ollama:11434"}},
                                       {"id": "b", "name": "Local SearXNG", "type": "searXngApi",
                                        "data": {"apiUrl": "http://searxng:8080"}}]))
    creds = run_cli("n8n", "import:credentials", "--input", str(credentials), env=env, home=tmp_path)
    assert creds.returncode == 0 and "Successfully imported 2 credentials." in creds.stdout
    folder = tmp_path / "separate"
    folder.mkdir()
    for i in range(2):
        (folder / f"w{i}.json").write_text(json.dumps({"name": f"w{i}", "nodes": [], "connections": {}}))
    separate = run_cli("n8n", "import:workflow", "--separate", f"--input={folder}", env=env, home=tmp_path)
    assert separate.returncode == 0 and "Successfully imported 2 workflows." in separate.stdout

    log = [json.loads(line) for line in (tmp_path / ".n8n" / "double-imports.log").read_text().splitlines()]
    assert [(e["cmd"], e["count"]) for e in log] == [("import:workflow", 1), ("import:credentials", 2),
                                                     ("import:workflow", 2)]
    assert postgres.psql("SELECT count(*) FROM public.n8n_double_imports", database="n8n") == "5"


def test_bad_imports_fail_and_are_not_recorded(tmp_path, postgres):
    env = _env(tmp_path, free_port(), **_pg_env(postgres))
    broken = tmp_path / "broken.json"
    cases = {"{not json": "not valid JSON", json.dumps({"name": "x", "nodes": []}): "no connections",
             json.dumps([1, 2]): "not an object"}
    for text, reason in cases.items():
        broken.write_text(text)
        result = run_cli("n8n", "import:workflow", f"--input={broken}", env=env, home=tmp_path)
        assert result.returncode == 1 and reason in result.stderr, result.stderr
    broken.write_text(json.dumps({"name": "no type", "data": {}}))
    result = run_cli("n8n", "import:credentials", f"--input={broken}", env=env, home=tmp_path)
    assert result.returncode == 1 and "no type" in result.stderr
    unreachable = run_cli("n8n", "import:workflow", f"--input={STARTER}", home=tmp_path,
                          env={**env, **_pg_env(postgres, "wrong-password")})
    assert unreachable.returncode == 1 and "There was an error initializing DB" in unreachable.stderr
    assert run_cli("n8n", "import:workflow", env=env, home=tmp_path).returncode == 1, "--input is required"
    assert not (tmp_path / ".n8n" / "double-imports.log").exists()


def test_bad_settings_are_refused(tmp_path):
    for extra in ({"WEBHOOK_URL": "n8n.example.com"}, {"N8N_PROTOCOL": "ftp"}, {"N8N_PORT": "http"},
                  {"DB_TYPE": "oracle"}):
        result = run_cli("n8n", "start", env=_env(tmp_path, free_port(), **extra), home=tmp_path, timeout=10)
        assert result.returncode == 1, extra
        assert len(result.stderr.strip().splitlines()) == 1
