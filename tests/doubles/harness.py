"""Run a contract double as a subprocess on a free local port and talk HTTP to it, without Docker;
sign JWTs independently of the doubles' own code; run a throwaway real Postgres when Debian's
postgresql-15 binaries are installed."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "tests" / "images"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PASSWORD = "Test-Password-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
            "PYTHONPATH": str(IMAGES), "PYTHONDONTWRITEBYTECODE": "1", **extra}


def command(name: str, *args: str) -> list[str]:
    return [sys.executable, str(IMAGES / name / "double.py"), *args]


def run_cli(name: str, *args: str, env: dict[str, str], home: Path, timeout: float = 30,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """One CLI call of a double (`ollama list`, `kong health`, `n8n import:workflow` ...)."""
    return subprocess.run(command(name, *args), env=base_env(home, env), capture_output=True, text=True,
                          timeout=timeout, input=input_text)


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def call(method: str, port: int, path: str, body: object = None, headers: dict[str, str] | None = None,
         timeout: float = 15) -> HttpResult:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return HttpResult(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


@dataclass
class Double:
    """A double's server process; stop() checks it leaves promptly with status 0 on SIGTERM."""

    name: str
    proc: subprocess.Popen[str]
    port: int
    log: Path
    extra: dict[str, object] = field(default_factory=dict)

    def get(self, path: str, headers: dict[str, str] | None = None) -> HttpResult:
        return call("GET", self.port, path, headers=headers)

    def request(self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None) -> HttpResult:
        return call(method, self.port, path, body, headers)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} ignored SIGTERM for 5s") from None
        return int(self.proc.returncode)


def start(name: str, *args: str, env: dict[str, str], home: Path, port: int, timeout: float = 20) -> Double:
    """Start a double and wait until its port accepts connections (fail with its output if it dies)."""
    log = home / f"{name}-{port}.log"
    handle = log.open("w")
    proc = subprocess.Popen(command(name, *args), env=base_env(home, env), stdout=handle, stderr=subprocess.STDOUT,
                            text=True)
    handle.close()
    double = Double(name, proc, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return double
        except OSError:
            time.sleep(0.05)
    double.stop()
    raise AssertionError(f"{name} did not listen on {port} within {timeout}s:\n{log.read_text()}")


def wait_for(check, timeout: float = 20, interval: float = 0.2):  # noqa: ANN001, ANN201 - any predicate
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- JWTs, signed here with our own few lines (not the doubles' code) ---------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict[str, object], secret: str, alg: str = "HS256") -> str:
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def api_key(role: str, secret: str, expires_in: int = 3600) -> str:
    now = int(time.time())
    return sign({"role": role, "iss": "supabase", "iat": now, "exp": now + expires_in}, secret)


# -- a throwaway real Postgres ----------------------------------------------------------------

@dataclass
class Postgres:
    port: int
    root: Path

    def psql(self, sql: str, user: str = "postgres", database: str = "postgres") -> str:
        result = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                                 str(self.port), "-U", user, "-d", database, "-f", "-"], input=sql, text=True,
                                capture_output=True, env={**os.environ, "PGPASSWORD": PG_PASSWORD}, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"psql failed: {result.stderr}")
        return result.stdout.strip()

    def url(self, user: str, database: str = "postgres", password: str = PG_PASSWORD) -> str:
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{database}"


def _as_postgres_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def start_postgres() -> Postgres:
    if not (PG_BIN / "initdb").exists() or not shutil.which("psql"):
        pytest.skip("Debian's postgresql-15 binaries are not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser: cannot start Postgres as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="lasdouble-pg-"))
    (root / "pw").write_text(PG_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(root / "pw", "postgres", "postgres")
    init = subprocess.run(_as_postgres_user([str(PG_BIN / "initdb"), "-D", str(root / "data"), "-U", "postgres",
                                             "--auth-local=trust", "--auth-host=scram-sha-256",
                                             f"--pwfile={root / 'pw'}", "-E", "UTF8", "--no-sync"]),
                          capture_output=True, text=True, timeout=120)
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    port = free_port()
    started = subprocess.run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-w", "-l",
                                                str(root / "log"), "-o",
                                                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                                                "start"]), capture_output=True, text=True, timeout=60)
    if started.returncode != 0:
        pytest.skip(f"Postgres did not start: {started.stderr.strip()[-300:]}")
    return Postgres(port, root)


def stop_postgres(pg: Postgres) -> None:
    subprocess.run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(pg.root / "data"), "-m", "immediate",
                                      "stop"]), capture_output=True, timeout=60)
    shutil.rmtree(pg.root, ignore_errors=True)


SUPABASE_SQL = f"""
CREATE ROLE anon NOLOGIN NOINHERIT;
CREATE ROLE authenticated NOLOGIN NOINHERIT;
CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT PASSWORD '{PG_PASSWORD}';
GRANT anon, authenticated, service_role TO authenticator;
CREATE ROLE supabase_admin LOGIN SUPERUSER PASSWORD '{PG_PASSWORD}';
CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE PASSWORD '{PG_PASSWORD}';
CREATE ROLE supabase_storage_admin LOGIN NOINHERIT CREATEROLE PASSWORD '{PG_PASSWORD}';
CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
CREATE SCHEMA storage AUTHORIZATION supabase_storage_admin;
GRANT USAGE ON SCHEMA public, storage TO anon, authenticated, service_role;
CREATE TABLE public.notes (id serial PRIMARY KEY, body text NOT NULL);
INSERT INTO public.notes (body) VALUES ('first'), ('second'), ('third');
GRANT SELECT ON public.notes TO anon;
GRANT ALL ON public.notes TO service_role;
GRANT USAGE ON SEQUENCE public.notes_id_seq TO service_role;
CREATE TABLE public.vault (id int, secret text);
GRANT ALL ON public.vault TO service_role;
CREATE FUNCTION public.whoami() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_user::text $$;
REVOKE ALL ON FUNCTION public.whoami() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.whoami() TO anon, authenticated, service_role;
CREATE FUNCTION public.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION public.claimed_role() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT current_setting('request.jwt.claims', true)::json->>'role' $$;
CREATE ROLE n8n LOGIN PASSWORD '{PG_PASSWORD}';
CREATE DATABASE n8n OWNER n8n;
"""
