"""Shared pieces of the contract doubles (tests only): HTTP serving, HS256 JWTs, real psql calls.

A double answers the endpoints its real service answers and checks its configuration the way
the real service does; it never logs secret values.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

Response = tuple[int, dict[str, str], bytes]
Handler = Callable[["Request"], Response]


def log(message: str) -> None:
    print(f"[double] {message}", flush=True)


def refuse(message: str) -> None:
    """Exit like the real service does on bad configuration: one line on stderr, non-zero."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(1)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = unquote(parts.path)
        self.raw_path = handler.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        self.body = body

    def json(self) -> object:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def reply(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    if isinstance(payload, bytes):
        body = payload
        content_type = "application/octet-stream"
    elif isinstance(payload, str):
        body = payload.encode()
        content_type = "text/plain; charset=utf-8"
    else:
        body = json.dumps(payload).encode()
        content_type = "application/json"
    return status, {"Content-Type": content_type, **(headers or {})}, body


def serve(handle: Handler, port: int, host: str = "0.0.0.0", streaming: Callable | None = None) -> None:
    """Serve forever; SIGTERM stops promptly with exit 0 (so `docker stop` is fast)."""

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self, self.rfile.read(length) if length else b"")
            if streaming and streaming(request, self):
                return
            status, headers, body = handle(request)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _do

        def log_message(self, fmt: str, *args: object) -> None:
            log(f"{self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}")

    family_host = "::" if host in ("::", "[::]") else host
    server_cls = ThreadingHTTPServer
    if ":" in family_host:
        import socket

        class _V6(ThreadingHTTPServer):
            address_family = socket.AF_INET6

        server_cls = _V6
    server = server_cls((family_host, port), _Handler)
    server.daemon_threads = True

    def _stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    log(f"listening on {host}:{port}")
    server.serve_forever()
    sys.exit(0)


# -- JWT (HS256) --------------------------------------------------------------------------------

def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_claims(token: str, secret: str) -> dict[str, object] | None:
    """Claims of an HS256 JWT signed with `secret` and not expired, else None."""
    try:
        header_b64, payload_b64, sig_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        if header.get("alg") != "HS256":
            return None
        expected = hmac.new(secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64decode(sig_b64)):
            return None
        claims = json.loads(_b64decode(payload_b64))
    except (ValueError, TypeError):
        return None
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp < time.time():
        return None
    return claims


def bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    return value[7:].strip() if value.lower().startswith("bearer ") else ""


# -- Postgres, for real, through psql ------------------------------------------------------------

def pg_params(url: str) -> dict[str, str]:
    """postgres://user:password@host:port/db -> libpq environment (password stays out of argv)."""
    parts = urlsplit(url)
    return {"PGHOST": parts.hostname or "", "PGPORT": str(parts.port or 5432), "PGUSER": unquote(parts.username or ""),
            "PGPASSWORD": unquote(parts.password or ""), "PGDATABASE": parts.path.lstrip("/") or "postgres"}


def psql(params: dict[str, str], sql: str, timeout: float = 20) -> tuple[int, str, str]:
    """Run `sql` with psql; returns (exit code, stdout, stderr)."""
    try:
        proc = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql],
                              env={**os.environ, **params, "PGCONNECT_TIMEOUT": "5"}, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 1, "", "timeout"
    return proc.returncode, proc.stdout, proc.stderr


def wait_for_db(params: dict[str, str], probe_sql: str = "SELECT 1", name: str = "service") -> None:
    """Retry like the real services do until the database answers."""
    while True:
        code, _, err = psql(params, probe_sql)
        if code == 0:
            log(f"{name}: database reachable as {params.get('PGUSER')}")
            return
        log(f"{name}: database not ready yet ({err.strip().splitlines()[-1] if err.strip() else code})")
        time.sleep(2)
