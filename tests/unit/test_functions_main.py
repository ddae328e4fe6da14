"""The Edge Functions main service checks the JWT when VERIFY_JWT=true, run in a real Deno.

Supabase's own main (docker/volumes/functions/main/index.ts @ supabase/supabase 1f37f2a9) refuses a
request without a valid `Authorization: Bearer` JWT before it starts a user worker. Ours must too:
Kong passes /functions/v1/ through with CORS only. Deno comes from npm (`npm install deno`, which
ships the binary); point DENO at it, or have `deno` on PATH. EdgeRuntime is stubbed: it only
records which worker would have been started.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

MAIN = Path(__file__).resolve().parents[2] / "templates" / "supabase" / "functions" / "main" / "index.ts"
SECRET = "functions-test-secret-with-at-least-32-chars"
DENO = os.environ.get("DENO") or shutil.which("deno") or str(Path(sys.executable).parent / "deno")  # PyPI deno

STUB = """
globalThis.EdgeRuntime = { userWorkers: { create: async (options) => ({
  fetch: async (req) => new Response(JSON.stringify({ servicePath: options.servicePath,
                                                      authorization: req.headers.get("authorization") })),
}) } };
const serve = Deno.serve;
Deno.serve = (handler) => serve({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")) }, handler);
await import(Deno.env.get("MAIN_URL"));
"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict[str, object], secret: str = SECRET, alg: str = "HS256") -> str:
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())


@pytest.fixture(scope="module")
def main_url(tmp_path_factory):
    if not Path(DENO).exists() and not shutil.which(DENO):
        pytest.skip("no deno binary (npm install deno, then DENO=.../node_modules/.bin/deno)")
    servers = {}

    def start(verify: str) -> str:
        if verify in servers:
            return servers[verify][1]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        stub = tmp_path_factory.mktemp("deno") / "stub.js"
        stub.write_text(STUB)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(stub.parent), "DENO_DIR": str(stub.parent / "cache"),
               "PORT": str(port), "MAIN_URL": MAIN.as_uri(), "JWT_SECRET": SECRET, "VERIFY_JWT": verify,
               "NO_COLOR": "1"}
        proc = subprocess.Popen([DENO, "run", "--allow-env", "--allow-net=127.0.0.1", f"--allow-read={MAIN}",
                                 str(stub)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stdout.read()) from None
                time.sleep(0.1)
        servers[verify] = (proc, url)
        return url

    yield start
    for proc, _ in servers.values():
        proc.terminate()
        proc.wait(10)


def call(url: str, path: str, authorization: str | None = None, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(url + path, method=method,
                                     headers={"Authorization": authorization} if authorization else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_a_valid_key_reaches_the_named_function(main_url):
    url = main_url("true")
    anon = sign({"role": "anon", "exp": int(time.time()) + 600})
    status, body = call(url, "/hello", f"Bearer {anon}")
    assert status == 200 and body["servicePath"] == "/home/deno/functions/hello"
    assert body["authorization"] == f"Bearer {anon}", "the worker sees the caller's token"


@pytest.mark.parametrize("authorization, code", [
    (None, "UNAUTHORIZED_NO_AUTH_HEADER"),
    ("Basic abc", "UNAUTHORIZED_INVALID_JWT_FORMAT"),
    ("Bearer not-a-jwt", "UNAUTHORIZED_INVALID_JWT_FORMAT"),
    ("Bearer " + sign({"role": "service_role"}, secret="another-secret-of-at-least-32-characters"),
     "UNAUTHORIZED_LEGACY_JWT"),
    ("Bearer " + sign({"role": "anon", "exp": int(time.time()) - 10}), "UNAUTHORIZED_LEGACY_JWT"),
    ("Bearer " + sign({"role": "anon"}, alg="HS512"), "UNAUTHORIZED_UNSUPPORTED_TOKEN_ALGORITHM"),
    ("Bearer " + sign({"role": "anon"}).rsplit(".", 1)[0] + ".", "UNAUTHORIZED_LEGACY_JWT"),
])
def test_requests_without_a_valid_jwt_are_refused(main_url, authorization, code):
    status, body = call(main_url("true"), "/hello", authorization)
    assert status == 401 and body["code"] == code, body


def test_preflight_and_verify_off(main_url):
    status, _ = call(main_url("true"), "/hello", method="OPTIONS")
    assert status == 200, "a CORS preflight carries no token; the function answers it"
    status, body = call(main_url("false"), "/hello")
    assert status == 200 and body["servicePath"] == "/home/deno/functions/hello"
