"""Shared pieces of the contract doubles (tests only): HTTP serving, HS256 JWTs, real psql calls.

A double answers the endpoints its real service answers and checks its configuration the way the
real service does. It logs each request and decision to stdout, never a secret: no env value of a
*KEY*/*SECRET*/*PASSWORD* variable, no JWT, no query string (it can carry an apikey).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NoReturn
from urllib.parse import parse_qsl, unquote, urlsplit

NAME = os.path.basename(sys.argv[0]) or "double"


# -- process ------------------------------------------------------------------------------------

def setup(name: str) -> None:
    """Name the double in its log lines."""
    global NAME
    NAME = name


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    print(f"{stamp} [{NAME}-double] {message}", flush=True)


def refuse(message: str) -> NoReturn:
    """Stop like the real service on bad configuration: one line on stderr, exit status 1."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(1)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def go_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool (Ollama, GoTrue, imgproxy): None when it is not a boolean."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def listen_address(value: str, default_port: int) -> tuple[str, int]:
    """'host:port', ':port', 'http://host:port', '[::]:port' or 'host' -> (host, port)."""
    value = value.strip()
    if "://" in value:
        value = value.split("://", 1)[1]
    value = value.split("/", 1)[0]
    host, port = value, default_port
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":") and rest[1:]:
            port = int(rest[1:])
    elif value.count(":") == 1:
        host, _, text = value.partition(":")
        port = int(text) if text else default_port
    return host or "0.0.0.0", port


def on_stop(*signals: int) -> None:
    """Exit 0 at once on SIGTERM (and the given signals), so `docker stop` is fast even as PID 1."""
    def _stop(signum: int, _frame: object) -> None:
        log(f"received {signal.Signals(signum).name}, stopping")
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT, *signals):
        signal.signal(signum, _stop)


def background(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


# -- HTTP ---------------------------------------------------------------------------------------

@dataclass
class Request:
    method: str
    raw_path: str                 # path and query exactly as sent
    headers: list[tuple[str, str]]
    body: bytes
    client: str
    path: str = ""
    raw_query: str = ""
    query: dict[str, str] = field(default_factory=dict)
    query_items: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.raw_path)
        self.path = unquote(parts.path) or "/"
        self.raw_query = parts.query
        self.query_items = parse_qsl(parts.query, keep_blank_values=True)
        self.query = dict(self.query_items)

    def header(self, name: str, default: str = "") -> str:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def json(self) -> object:
        """The JSON body, or None when it is missing or not JSON."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None


@dataclass
class Response:
    status: int
    headers: dict[str, str] | list[tuple[str, str]]   # a list keeps repeated headers (Set-Cookie)
    body: bytes | Iterable[bytes]   # an iterable is sent chunked, as it is produced


def reply(status: int, payload: object = b"", headers: dict[str, str] | None = None) -> Response:
    """bytes go out as they are, str as text, anything else as JSON."""
    if isinstance(payload, bytes):
        body, content_type = payload, "application/octet-stream"
    elif isinstance(payload, str):
        body, content_type = payload.encode(), "text/plain; charset=utf-8"
    else:
        body, content_type = json.dumps(payload).encode(), "application/json; charset=utf-8"
    out = {"Content-Type": content_type} if body else {}
    out.update(headers or {})
    return Response(status, out, body)


def html(status: int, text: str) -> Response:
    return reply(status, text, {"Content-Type": "text/html; charset=utf-8"})


def ndjson(events: Iterable[dict[str, object]]) -> Response:
    """A streamed answer, one JSON object per line (Ollama's progress stream)."""
    return Response(200, {"Content-Type": "application/x-ndjson"}, (json.dumps(e).encode() + b"\n" for e in events))


Handler = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" also takes IPv4
        super().server_bind()


def _handler_class(handle: Handler, quiet: Callable[[Request], bool]) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def version_string(self) -> str:
            return f"{NAME}-double"

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _do(self) -> None:
            request = Request(self.command, self.path, list(self.headers.items()), self._body(),
                              self.client_address[0])
            try:
                response = handle(request)
            except Exception as exc:  # noqa: BLE001 - a double answers 500 and logs, like a server would
                log(f"error handling {request.method} {request.path}: {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stdout)
                response = reply(500, {"message": "internal error in the double"})
            if not quiet(request) or response.status >= 400:
                log(f"{request.method} {request.path} -> {response.status}")
            self._send(response)

        def _send(self, response: Response) -> None:
            headers = list(response.headers.items() if isinstance(response.headers, dict) else response.headers)
            self.send_response_only(response.status)
            if not any(key.lower() == "server" for key, _ in headers):
                self.send_header("Server", self.version_string())
            self.send_header("Date", self.date_time_string())
            for key, value in headers:
                self.send_header(key, value)
            if isinstance(response.body, bytes):
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in response.body:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _do

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            pass  # _do logs the path without its query string (it may carry an apikey)

    return _Handler


def make_server(handle: Handler, port: int, host: str = "0.0.0.0",
                quiet: Callable[[Request], bool] | None = None) -> ThreadingHTTPServer:
    """Bind (IPv6 "::" takes IPv4 too); a bind failure is fatal, as for any server."""
    server_class = _Server
    if ":" in host:
        server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
    try:
        server = server_class((host, port), _handler_class(handle, quiet or (lambda _r: False)))
    except OSError as exc:
        refuse(f"listen tcp {host}:{port}: {exc.strerror}")
    log(f"listening on {host}:{port}")
    return server


def serve_in_background(handle: Handler, port: int, host: str = "0.0.0.0",
                        quiet: Callable[[Request], bool] | None = None) -> ThreadingHTTPServer:
    """A second listener (PostgREST's admin port) served from a thread."""
    server = make_server(handle, port, host, quiet)
    background(lambda: server.serve_forever(poll_interval=0.2), f"http-{port}")
    return server


def serve(handle: Handler, port: int, host: str = "0.0.0.0", quiet: Callable[[Request], bool] | None = None,
          stop_signals: tuple[int, ...] = ()) -> NoReturn:
    """Serve HTTP/1.1 until SIGTERM, then exit 0. `quiet` requests (health polls) log only failures."""
    on_stop(*stop_signals)
    server = make_server(handle, port, host, quiet)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    raise SystemExit(0)


def urlopen(request: urllib.request.Request | str, timeout: float = 10.0):  # noqa: ANN201 - urllib's type
    """urllib without proxies from the environment: doubles only talk to their own container."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=timeout)


def http_status(url: str, timeout: float = 3.0, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    """Status of a local HTTP request; 0 when nothing answers (used by the CLI health commands)."""
    try:
        with urlopen(urllib.request.Request(url, method=method, headers=headers or {}), timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0


# -- JWT (HS256) --------------------------------------------------------------------------------

class JWTError(Exception):
    """Why a token was refused: malformed, alg, signature, expired or nbf."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_sign(claims: dict[str, object], secret: str) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def jwt_verify(token: str, secret: str, now: float | None = None) -> dict[str, object]:
    """The claims of an HS256 JWT signed with `secret` and valid now; JWTError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("malformed")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, TypeError) as exc:
        raise JWTError("malformed") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("malformed")
    if header.get("alg") != "HS256":
        raise JWTError("alg")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not secret or not hmac.compare_digest(expected, signature):
        raise JWTError("signature")
    now = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if isinstance(exp, (int, float)) and now >= exp:
        raise JWTError("expired")
    if isinstance(nbf, (int, float)) and now < nbf:
        raise JWTError("nbf")
    return claims


def bearer(request: Request) -> str:
    scheme, _, token = request.header("authorization").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# -- Postgres, for real, through psql --------------------------------------------------------------

@dataclass(frozen=True)
class Pg:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> Pg:
        """postgres://user:password@host:port/db (the password is percent-decoded)."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ValueError("not a postgres:// URL")
        return cls(parts.hostname or "localhost", parts.port or 5432, unquote(parts.username or ""),
                   unquote(parts.password or ""), unquote(parts.path.lstrip("/")) or "postgres")

    def as_user(self, user: str, password: str) -> Pg:
        return Pg(self.host, self.port, user, password, self.dbname)


@dataclass
class PgResult:
    code: int
    out: str
    err: str
    sqlstate: str = ""
    message: str = ""
    detail: str = ""
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def reason(self) -> str:
        """One line for the log: the server's message, never the connection string."""
        return self.message or (self.err.strip().splitlines() or [f"psql exit {self.code}"])[-1]


def psql(pg: Pg, sql: str, timeout: float = 30) -> PgResult:
    """Run `sql` through psql (stdin, stop on the first error). The password goes in the
    environment, never in argv; errors come back with their SQLSTATE."""
    argv = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
            "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", pg.dbname, "-f", "-"]
    child_env = {**os.environ, "PGPASSWORD": pg.password, "PGCONNECT_TIMEOUT": "5", "PGAPPNAME": f"{NAME}-double"}
    try:
        proc = subprocess.run(argv, input=sql, env=child_env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return PgResult(124, "", "timeout", message=f"no answer from the database within {timeout:.0f}s")
    except FileNotFoundError:
        return PgResult(127, "", "psql not found", message="psql is not installed")
    result = PgResult(proc.returncode, proc.stdout, proc.stderr)
    for line in proc.stderr.splitlines():
        text = line.split(": ", 1)[1] if line.startswith("psql:") and ": " in line else line
        if text.startswith(("ERROR:", "FATAL:")) and not result.message:
            body = text.split(":", 1)[1].strip()
            code, sep, rest = body.partition(": ")
            if sep and len(code) == 5 and code.isalnum():
                result.sqlstate, result.message = code, rest
            else:
                result.message = body
        elif text.startswith("DETAIL:") and not result.detail:
            result.detail = text.split(":", 1)[1].strip()
        elif text.startswith("HINT:") and not result.hint:
            result.hint = text.split(":", 1)[1].strip()
        elif "error: " in text and not result.message:   # connection failures: "psql: error: ..."
            result.message = text.split("error: ", 1)[1].strip()
    return result


def ident(name: str) -> str:
    """A safely quoted SQL identifier."""
    if "\0" in name:
        raise ValueError("NUL in identifier")
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A safely quoted SQL string literal (standard_conforming_strings is on since PG 9.1)."""
    if "\0" in value:
        raise ValueError("NUL in literal")
    return "'" + value.replace("'", "''") + "'"


class Readiness:
    """A flag a background loop keeps up to date; health endpoints read it."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self.detail = "starting"

    def set(self, ready: bool, detail: str) -> None:
        changed = ready != self._ready.is_set() or detail != self.detail
        self.detail = detail
        if ready:
            self._ready.set()
        else:
            self._ready.clear()
        if changed:
            log(f"{'ready' if ready else 'not ready'}: {detail}")

    def __bool__(self) -> bool:
        return self._ready.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)


def keep_checking(readiness: Readiness, check: Callable[[], PgResult], what: str,
                  retry: float = 2.0, recheck: float = 10.0) -> None:
    """Retry `check` until it works (like the real services' connection retries), then re-check
    now and then so readiness follows the database."""
    def loop() -> None:
        while True:
            result = check()
            readiness.set(result.ok, what if result.ok else f"{what} failed: {result.reason()}")
            time.sleep(recheck if result.ok else retry)

    background(loop, "db-check")
