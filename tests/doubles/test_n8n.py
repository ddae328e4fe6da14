"""The n8n 2.41.3 double and the runners double: settings file, readiness from a real database
and REST mounted later, owner from the environment, imports and list from the database, REST
activation, the chat webhook with basic auth, Postgres memory per session and a real model call,
and the task broker's token exchange. Each behaviour cites its source in the double."""
from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest

from tests.doubles.harness import PG_PASSWORD, free_port, run_cli, wait_for

STARTER = Path(__file__).resolve().parents[2] / "templates" / "n8n" / "starter-agent.json"
OWNER_EMAIL, OWNER_PASSWORD = "owner@localai.local", "Owner1234secret"


def _env(tmp_path, port: int, **extra: str) -> dict[str, str]:
    return {"N8N_USER_FOLDER": str(tmp_path), "N8N_PORT": str(port), "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_PROTOCOL": "http", "N8N_WEBHOOK_URL": "http://localhost:5678/",
            "N8N_RUNNERS_BROKER_PORT": str(free_port()), **extra}


def _pg_env(postgres, password: str = PG_PASSWORD) -> dict[str, str]:
    return {"DB_TYPE": "postgresdb", "DB_POSTGRESDB_HOST": "127.0.0.1", "DB_POSTGRESDB_PORT": str(postgres.port),
            "DB_POSTGRESDB_DATABASE": "n8n", "DB_POSTGRESDB_USER": "n8n", "DB_POSTGRESDB_PASSWORD": password}


def _owner_env() -> dict[str, str]:
    hashed = bcrypt.hashpw(OWNER_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return {"N8N_INSTANCE_OWNER_MANAGED_BY_ENV": "true", "N8N_INSTANCE_OWNER_EMAIL": OWNER_EMAIL,
            "N8N_INSTANCE_OWNER_PASSWORD_HASH": hashed}


def _rest_ready(n8n) -> bool:
    return n8n.get("/rest/settings").status == 200


def _login(n8n, password: str = OWNER_PASSWORD):
    return n8n.request("POST", "/rest/login", {"emailOrLdapLoginId": OWNER_EMAIL, "password": password})


class _Model:
    """A stand-in for Ollama's /api/chat (streaming NDJSON), recording what it was sent."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                model.calls.append(body)
                words = [f"echo: {body['messages'][-1]['content']}"]
                lines = b"".join(json.dumps({"message": {"role": "assistant", "content": w}, "done": False}).encode()
                                 + b"\n" for w in words) + b'{"done": true}\n'
                self.send_response(200 if self.path == "/api/chat" else 404)
                self.send_header("Content-Length", str(len(lines)))
                self.end_headers()
                self.wfile.write(lines)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def model():
    m = _Model()
    yield m
    m.server.shutdown()


def test_encryption_key_is_saved_and_a_different_one_refused(spawn, tmp_path):
    port = free_port()
    n8n = spawn("n8n", "start", env=_env(tmp_path, port, N8N_ENCRYPTION_KEY="first-key-0123456789"), port=port)
    assert n8n.get("/healthz").json() == {"status": "ok"}
    assert wait_for(lambda: n8n.get("/healthz/readiness").status == 200)
    config = tmp_path / ".n8n" / "config"
    assert json.loads(config.read_text()) == {"encryptionKey": "first-key-0123456789"}
    assert config.stat().st_mode & 0o777 == 0o600
    assert "first-key-0123456789" not in n8n.output()
    assert n8n.stop() == 0

    changed = run_cli("n8n", "start", env=_env(tmp_path, port, N8N_ENCRYPTION_KEY="second-key-0123456789"),
                      home=tmp_path, timeout=10)
    assert changed.returncode == 1
    assert changed.stderr.startswith(f"Mismatching encryption keys. The encryption key in the settings file {config} "
                                     "does not match the N8N_ENCRYPTION_KEY env var.")
    assert len(changed.stderr.strip().splitlines()) == 1 and "second-key" not in changed.stderr
    config.chmod(0o644)
    again = spawn("n8n", env=_env(tmp_path, port), port=port)  # no key given: the stored one is used
    assert wait_for(lambda: config.stat().st_mode & 0o777 == 0o600), "a settings file 0644 is set to 0600"
    assert "are too wide. Changing permissions to 0600" in again.output()


def test_readiness_follows_the_real_database_and_rest_comes_later(spawn, tmp_path, postgres):
    port = free_port()
    wrong = spawn("n8n", env=_env(tmp_path, port, **_pg_env(postgres, "wrong-password")), port=port)
    assert wrong.get("/healthz").status == 200
    assert wrong.get("/healthz/readiness").status == 503
    assert wrong.get("/").json() == {"code": 503, "message": "Database is not ready!"}
    assert "password authentication failed" in wait_for(lambda: wrong.output() if "failed" in wrong.output() else "")
    wrong.stop()

    n8n = spawn("n8n", env=_env(tmp_path, port, **_pg_env(postgres)), port=port)
    assert wait_for(lambda: n8n.get("/healthz/readiness").status == 200, interval=0.05)
    ready_at = time.monotonic()
    assert n8n.get("/rest/settings").status == 404, "REST is mounted after readiness"
    assert wait_for(lambda: _rest_ready(n8n), interval=0.05)
    assert time.monotonic() - ready_at >= 4.0
    assert n8n.get("/rest/settings").json()["data"]["versionCli"] == "2.41.3"
    assert PG_PASSWORD not in n8n.output()


def test_the_owner_comes_from_the_environment(spawn, tmp_path, postgres):
    port = free_port()
    bad = run_cli("n8n", "start", env={**_env(tmp_path, port, **_pg_env(postgres)), **_owner_env(),
                                       "N8N_INSTANCE_OWNER_PASSWORD_HASH": "not-a-hash"}, home=tmp_path, timeout=10)
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("N8N_INSTANCE_OWNER_PASSWORD_HASH is not a valid bcrypt hash. Provide a pre-hashed "
                                  "bcrypt string.")
    n8n = spawn("n8n", env={**_env(tmp_path, port, **_pg_env(postgres)), **_owner_env()}, port=port)
    assert wait_for(lambda: _rest_ready(n8n))
    assert n8n.get("/rest/settings").json()["data"]["userManagement"]["showSetupOnFirstLoad"] is False
    claim = n8n.request("POST", "/rest/owner/setup", {"email": "x@example.com", "password": "Stranger123",
                                                      "firstName": "a", "lastName": "b"})
    assert claim.status == 400 and claim.json()["message"] == "Instance owner already setup"
    assert _login(n8n, "Wrong1234").status == 401
    ok = _login(n8n)
    assert ok.status == 200 and ok.headers["set-cookie"].startswith("n8n-auth=")
    assert n8n.get("/rest/workflows/none").status == 401, "REST needs the session cookie"


def _import(kind: str, items: list[dict], env: dict[str, str], tmp_path: Path):
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(items))
    return run_cli("n8n", f"import:{kind}", f"--input={path}", env=env, home=tmp_path)


def test_imports_and_list_use_the_database(tmp_path, postgres):
    env = _env(tmp_path, free_port(), N8N_ENCRYPTION_KEY="import-key-0123456789", **_pg_env(postgres))
    wid = f"wf{uuid.uuid4().hex[:10]}"
    done = _import("workflow", [{"id": wid, "name": "w", "nodes": [], "connections": {}}], env, tmp_path)
    assert done.returncode == 0 and "Successfully imported 1 workflow." in done.stdout, done.stderr
    listed = run_cli("n8n", "list:workflow", "--onlyId", env=env, home=tmp_path)
    assert wid in listed.stdout.split()
    assert f"{wid}|w" in run_cli("n8n", "list:workflow", env=env, home=tmp_path).stdout.splitlines()
    cid = f"cr{uuid.uuid4().hex[:10]}"
    for password in ("old", "new"):
        creds = _import("credentials", [{"id": cid, "name": "pg", "type": "postgres", "data": {"password": password}}],
                        env, tmp_path)
        assert creds.returncode == 0 and "Successfully imported 1 credential." in creds.stdout
    assert postgres.psql(f"SELECT data->>'password' FROM n8n_double_credentials WHERE id = '{cid}'",
                         database="n8n") == "new", "import:credentials upserts by id"
    assert run_cli("n8n", "list:workflow", "--active=maybe", env=env, home=tmp_path).returncode == 1


def test_bad_imports_fail(tmp_path, postgres):
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


def _starter(model_url: str, postgres, pg_password: str = PG_PASSWORD) -> tuple[list[dict], dict]:
    workflow = json.loads(STARTER.read_text().replace("{{ chat_model }}", "llama3.2:3b"))
    credentials = [
        {"id": "localaiOllama", "name": "Local Ollama", "type": "ollamaApi", "data": {"baseUrl": model_url}},
        {"id": "localaiSearxng", "name": "Local SearXNG", "type": "searXngApi", "data": {"apiUrl": "http://x"}},
        {"id": "localaiPostgres", "name": "Local Postgres (n8n database)", "type": "postgres",
         "data": {"host": "127.0.0.1", "port": postgres.port, "database": "n8n", "user": "n8n",
                  "password": pg_password, "ssl": "disable"}},
        {"id": "localaiAgentAuth", "name": "Local AI agent webhook (Open WebUI)", "type": "httpBasicAuth",
         "data": {"user": "openwebui", "password": "agentpass"}},
    ]
    return credentials, workflow


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_activation_and_the_chat_webhook(spawn, tmp_path, postgres, model):
    port = free_port()
    env = {**_env(tmp_path, port, **_pg_env(postgres)), **_owner_env()}
    credentials, workflow = _starter(model.url, postgres)
    assert _import("credentials", credentials, env, tmp_path).returncode == 0
    assert _import("workflow", [workflow], env, tmp_path).returncode == 0
    n8n = spawn("n8n", env=env, port=port)
    assert wait_for(lambda: _rest_ready(n8n))
    url = "/webhook/localai-agent/chat"
    message = {"action": "sendMessage", "sessionId": "chat-1", "chatInput": "hello"}
    inactive = n8n.request("POST", url, message, _basic("openwebui", "agentpass"))
    assert inactive.status == 404 and "is not registered" in inactive.json()["message"]

    cookie = {"Cookie": _login(n8n).headers["set-cookie"].split(";")[0]}
    got = n8n.request("GET", "/rest/workflows/localaiStarterAgent", headers=cookie).json()["data"]
    assert got["active"] is False
    assert n8n.request("POST", "/rest/workflows/localaiStarterAgent/activate", {"versionId": "other"},
                       cookie).status == 404
    done = n8n.request("POST", "/rest/workflows/localaiStarterAgent/activate", {"versionId": got["versionId"]},
                       cookie)
    assert done.status == 200 and done.json()["data"]["active"] is True

    none = n8n.request("POST", url, message)
    assert none.status == 401 and none.headers["www-authenticate"] == 'Basic realm="Webhook localai-agent"'
    assert n8n.request("POST", url, message, _basic("openwebui", "wrong")).status == 403
    answer = n8n.request("POST", url, message, _basic("openwebui", "agentpass"))
    assert answer.status == 200 and answer.json() == {"output": "echo: hello"}
    n8n.request("POST", url, {**message, "chatInput": "again"}, _basic("openwebui", "agentpass"))
    other = n8n.request("POST", url, {**message, "sessionId": "chat-2", "chatInput": "new"},
                        _basic("openwebui", "agentpass"))
    assert other.json() == {"output": "echo: new"}
    contents = [[m["content"] for m in call["messages"] if m["role"] != "system"] for call in model.calls]
    assert contents == [["hello"], ["hello", "echo: hello", "again"], ["new"]], "memory is kept per sessionId"
    assert model.calls[0]["model"] == "llama3.2:3b" and model.calls[0]["stream"] is True

    # a stale database password in the memory credential fails the run, as in n8n
    stale, _ = _starter(model.url, postgres, pg_password="stale-password")
    assert _import("credentials", stale, env, tmp_path).returncode == 0
    failed = n8n.request("POST", url, message, _basic("openwebui", "agentpass"))
    assert failed.status == 500 and failed.json() == {"message": "Error in workflow"}
    assert "agentpass" not in n8n.output() and PG_PASSWORD not in n8n.output()


def test_external_runners_need_the_token_and_exchange_it(spawn, tmp_path):
    port, broker_port = free_port(), free_port()
    env = _env(tmp_path, port, N8N_RUNNERS_MODE="external", N8N_RUNNERS_BROKER_PORT=str(broker_port))
    missing = run_cli("n8n", "start", env=env, home=tmp_path, timeout=10)
    assert missing.returncode == 1 and missing.stderr.startswith("Missing auth token. When `N8N_RUNNERS_MODE`")
    spawn("n8n", env={**env, "N8N_RUNNERS_AUTH_TOKEN": "broker-token-123"}, port=port)
    assert wait_for(lambda: _status(broker_port, "/healthz") == 200)
    assert run_cli("n8n-runners", "javascript", env={}, home=tmp_path, timeout=10).returncode == 1
    runners_port = free_port()
    bad = spawn("n8n-runners", "javascript", port=runners_port, env={
        "N8N_RUNNERS_AUTH_TOKEN": "wrong", "N8N_RUNNERS_TASK_BROKER_URI": f"http://127.0.0.1:{broker_port}",
        "N8N_RUNNERS_LAUNCHER_HEALTH_CHECK_PORT": str(runners_port)})
    assert bad.get("/healthz").json() == {"status": "ok"}
    assert wait_for(lambda: "failed to fetch grant token: HTTP 403" in bad.output())
    bad.stop()
    good = spawn("n8n-runners", "javascript", "python", port=runners_port, env={
        "N8N_RUNNERS_AUTH_TOKEN": "broker-token-123", "N8N_RUNNERS_TASK_BROKER_URI": f"http://127.0.0.1:{broker_port}",
        "N8N_RUNNERS_LAUNCHER_HEALTH_CHECK_PORT": str(runners_port)})
    assert wait_for(lambda: good.output().count("got a grant token") == 2)


def _status(port: int, path: str) -> int:
    from tests.doubles.harness import call

    try:
        return call("GET", port, path).status
    except OSError:
        return 0


def test_bad_settings_are_refused(tmp_path):
    for extra in ({"N8N_WEBHOOK_URL": "n8n.example.com"}, {"N8N_PROTOCOL": "ftp"}, {"N8N_PORT": "http"},
                  {"DB_TYPE": "oracle"}, {"N8N_INSTANCE_OWNER_MANAGED_BY_ENV": "true"}):
        result = run_cli("n8n", "start", env=_env(tmp_path, free_port(), **extra), home=tmp_path, timeout=10)
        assert result.returncode == 1, extra
        assert len(result.stderr.strip().splitlines()) == 1


def test_without_an_env_owner_the_first_visitor_claims_it(spawn, tmp_path, postgres):
    """What the stack prevents: n8n's own owner setup is open to whoever comes first."""
    postgres.psql("DELETE FROM n8n_double_users", database="n8n")
    port = free_port()
    n8n = spawn("n8n", env=_env(tmp_path, port, **_pg_env(postgres)), port=port)
    assert wait_for(lambda: _rest_ready(n8n))
    assert n8n.get("/rest/settings").json()["data"]["userManagement"]["showSetupOnFirstLoad"] is True
    visitor = {"email": "stranger@example.com", "firstName": "a", "lastName": "b"}
    for weak, message in (("short1A", "8 to 64"), ("nodigitsAAAA", "1 number"), ("nouppercase1", "uppercase")):
        refused = n8n.request("POST", "/rest/owner/setup", {**visitor, "password": weak})
        assert refused.status == 400 and message in refused.json()["message"]
    assert n8n.request("POST", "/rest/owner/setup", {**visitor, "password": "Stranger123"}).status == 200
    again = n8n.request("POST", "/rest/owner/setup", {**visitor, "password": "Stranger456"})
    assert again.status == 400 and again.json()["message"] == "Instance owner already setup"
    login = n8n.request("POST", "/rest/login", {"emailOrLdapLoginId": "stranger@example.com",
                                                "password": "Stranger123"})
    assert login.status == 200
