"""The Kong double: declarative config checks like Kong 3.9, routing with strip_path, key-auth, acl,
basic-auth, cors and request-termination in front of a real upstream, and `kong health`."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stack import services
from tests.doubles.harness import api_key, free_port, run_cli

SECRET = "test-jwt-secret-with-at-least-32-characters"
PLUGINS = "request-transformer,cors,key-auth,acl,basic-auth,request-termination"
TEMPLATE = """_format_version: "2.1"
_transform: true
consumers:
  - username: dashboard
    basicauth_credentials:
      - username: "${DASHBOARD_USERNAME}"
        password: "${DASHBOARD_PASSWORD}"
  - username: anon
    keyauth_credentials:
      - key: "${SUPABASE_ANON_KEY}"
  - username: service_role
    keyauth_credentials:
      - key: "${SUPABASE_SERVICE_KEY}"
acls:
  - consumer: anon
    group: anon
  - consumer: service_role
    group: admin
services:
  - name: rest-v1
    url: http://127.0.0.1:UPSTREAM/
    routes:
      - name: rest-v1-all
        strip_path: true
        paths: [/rest/v1/]
    plugins:
      - name: cors
      - name: key-auth
        config:
          hide_credentials: true
      - name: acl
        config:
          hide_groups_header: true
          allow: [admin, anon]
  - name: realtime-v1-rest
    url: http://127.0.0.1:UPSTREAM/api
    routes:
      - name: realtime-v1-rest
        strip_path: true
        paths: [/realtime/v1/api]
    plugins:
      - name: key-auth
        config:
          hide_credentials: false
      - name: acl
        config:
          allow: [admin, anon]
  - name: meta
    url: http://127.0.0.1:UPSTREAM/
    routes:
      - name: meta-all
        strip_path: true
        paths: [/pg/]
    plugins:
      - name: key-auth
      - name: acl
        config:
          allow: [admin]
  - name: dashboard
    url: http://127.0.0.1:UPSTREAM/
    routes:
      - name: dashboard-all
        strip_path: true
        paths: [/studio/]
    plugins:
      - name: basic-auth
        config:
          hide_credentials: true
"""


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers),
                           "body": self.rfile.read(length).decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def substitute(text: str, values: dict[str, str]) -> str:
    """What the product's entrypoint does with awk inside the container."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


KEYS = {"SUPABASE_ANON_KEY": api_key("anon", SECRET), "SUPABASE_SERVICE_KEY": api_key("service_role", SECRET),
        "DASHBOARD_USERNAME": "supabase", "DASHBOARD_PASSWORD": "dashboard-pass-123"}


def _env(tmp_path: Path, config: str, port: int, **extra: str) -> dict[str, str]:
    path = tmp_path / "kong.yml"
    path.write_text(config)
    return {"KONG_DATABASE": "off", "KONG_DECLARATIVE_CONFIG": str(path), "KONG_PLUGINS": PLUGINS,
            "KONG_PREFIX": str(tmp_path / "prefix"), "KONG_PROXY_LISTEN": f"127.0.0.1:{port}", **extra}


@pytest.fixture
def kong(spawn, tmp_path, upstream):
    port = free_port()
    config = substitute(TEMPLATE.replace("UPSTREAM", str(upstream)), KEYS)
    env = _env(tmp_path, config, port)
    assert run_cli("supabase-kong", "health", env=env, home=tmp_path).returncode == 1
    double = spawn("supabase-kong", "docker-start", env=env, port=port)
    double.extra["env"] = env
    return double


def run_kong(*args: str, env: dict[str, str], home: Path):
    return run_cli("supabase-kong", *args, env=env, home=home)


def test_key_auth_rejects_missing_unknown_and_forged_keys(kong):
    missing = kong.get("/rest/v1/notes")
    assert missing.status == 401 and missing.json()["message"] == "No API key found in request"
    # Kong 3.9 error bodies carry the request id (kong/tools/http.lua), also sent as X-Kong-Request-Id.
    assert missing.json()["request_id"] == missing.headers["x-kong-request-id"]
    assert kong.get("/rest/v1/notes", {"apikey": "not-a-key"}).status == 401
    forged = api_key("service_role", "another-secret-of-at-least-32-characters")
    refused = kong.get("/rest/v1/notes", {"apikey": forged})
    # kong/plugins/key-auth/handler.lua:31,114 @ 3.9.3
    assert refused.status == 401 and refused.json()["message"] == "Unauthorized"
    assert refused.headers["www-authenticate"] == "Key"
    unsigned = KEYS["SUPABASE_ANON_KEY"].rsplit(".", 1)[0] + "."
    assert kong.get("/rest/v1/notes", {"apikey": unsigned}).status == 401


def test_valid_key_is_proxied_with_strip_path_and_hidden_credentials(kong):
    result = kong.get("/rest/v1/notes?select=*&apikey=" + KEYS["SUPABASE_ANON_KEY"],
                      {"Authorization": "Bearer " + KEYS["SUPABASE_ANON_KEY"]})
    assert result.status == 200
    seen = result.json()
    assert seen["path"] == "/notes?select=*", "prefix stripped, apikey query removed, rest kept as sent"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert "apikey" not in headers and headers["authorization"].startswith("Bearer ")
    assert headers["x-consumer-username"] == "anon" and "x-consumer-groups" not in headers
    assert result.headers["access-control-allow-origin"] == "*"
    realtime = kong.get("/realtime/v1/api/tenants/realtime-dev/health", {"apikey": KEYS["SUPABASE_ANON_KEY"]})
    assert realtime.json()["path"] == "/api/tenants/realtime-dev/health"
    posted = kong.request("POST", "/rest/v1/rpc/whoami", {"x": 1}, {"apikey": KEYS["SUPABASE_SERVICE_KEY"]})
    assert posted.json()["method"] == "POST" and json.loads(posted.json()["body"]) == {"x": 1}


def test_acl_keeps_anon_out_of_the_admin_service(kong):
    denied = kong.get("/pg/tables", {"apikey": KEYS["SUPABASE_ANON_KEY"]})
    assert denied.status == 403 and denied.json()["message"] == "You cannot consume this service"
    allowed = kong.get("/pg/tables", {"apikey": KEYS["SUPABASE_SERVICE_KEY"]})
    assert allowed.status == 200
    headers = {k.lower(): v for k, v in allowed.json()["headers"].items()}
    assert headers["apikey"] == KEYS["SUPABASE_SERVICE_KEY"], "hide_credentials defaults to false"
    assert headers["x-consumer-groups"] == "admin"


def test_basic_auth_cors_preflight_and_unknown_routes(kong):
    assert kong.get("/studio/").status == 401
    assert kong.get("/studio/").headers["www-authenticate"] == 'Basic realm="service"'
    wrong = base64.b64encode(b"supabase:nope").decode()
    assert kong.get("/studio/", {"Authorization": f"Basic {wrong}"}).status == 401
    right = base64.b64encode(b"supabase:dashboard-pass-123").decode()
    page = kong.get("/studio/project", {"Authorization": f"Basic {right}"})
    assert page.status == 200 and "authorization" not in {k.lower() for k in page.json()["headers"]}
    preflight = kong.request("OPTIONS", "/rest/v1/notes", headers={"Origin": "http://app.test",
                                                                 "Access-Control-Request-Method": "POST"})
    assert preflight.status == 200 and "POST" in preflight.headers["access-control-allow-methods"]
    missing = kong.get("/nothing/here")
    assert missing.status == 404 and missing.json()["message"] == "no Route matched with those values"
    assert missing.headers["server"] == "kong/3.9.3"


def test_health_and_secrets_stay_out_of_the_log(kong, tmp_path):
    env = kong.extra["env"]
    healthy = run_kong("health", env=env, home=tmp_path)
    assert healthy.returncode == 0 and "Kong is healthy" in healthy.stdout
    kong.get("/rest/v1/notes", {"apikey": KEYS["SUPABASE_ANON_KEY"]})
    kong.get("/rest/v1/notes?apikey=" + KEYS["SUPABASE_SERVICE_KEY"])
    assert kong.stop() == 0
    for value in KEYS.values():
        if len(value) > 10:
            assert value not in kong.output()
    assert run_kong("health", env=env, home=tmp_path).returncode == 1


@pytest.mark.parametrize("change, expected", [
    (lambda t: t, "unsubstituted"),
    (lambda t: substitute(t, KEYS).replace("name: cors", "name: rate-limiting"), "plugin 'rate-limiting' not enabled"),
    (lambda t: substitute(t, KEYS).replace("    url: http://127.0.0.1:9/api\n", ""), "'url', 'host'"),
    (lambda t: substitute(t, {**KEYS, "SUPABASE_ANON_KEY": ""}), "length must be at least 1"),
    (lambda t: substitute(t, KEYS).replace("consumer: service_role", "consumer: nobody"), "invalid reference"),
    (lambda t: substitute(t, KEYS).replace('_format_version: "2.1"', "_format_version: \"9\""), "_format_version"),
    (lambda t: substitute(t, KEYS).replace("allow: [admin]", "allow: [admin]\n          deny: [anon]"),
     "only one of"),
    (lambda t: substitute(t, KEYS) + "  - name: [broken\n", "failed parsing"),
    (lambda t: substitute(t, KEYS).replace("allow: [admin]", "hide_groups_header: true"), "config.allow"),
    (lambda t: substitute(t, KEYS).replace("paths: [/pg/]", "paths: [pg]"), "should start with"),
    (lambda t: substitute(t, KEYS).replace("paths: [/pg/]", 'paths: ["~/pg/(["]'), "invalid regex"),
])
def test_bad_declarative_config_is_refused(tmp_path, change, expected):
    config = change(TEMPLATE.replace("UPSTREAM", "9"))
    result = run_kong("docker-start", env=_env(tmp_path, config, free_port()), home=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr, result.stderr
    for value in KEYS.values():
        assert value not in result.stderr


def test_plugins_must_be_enabled_and_installed(tmp_path):
    config = substitute(TEMPLATE.replace("UPSTREAM", "9"), KEYS)
    without_acl = run_kong("docker-start", env=_env(tmp_path, config, free_port(), KONG_PLUGINS="cors,key-auth"),
                           home=tmp_path)
    assert without_acl.returncode == 1 and "unknown field" in without_acl.stderr, without_acl.stderr
    unknown = run_kong("docker-start", env=_env(tmp_path, config, free_port(), KONG_PLUGINS="bundled,nope"),
                       home=tmp_path)
    assert unknown.returncode == 1 and "'nope'" in unknown.stderr
    bundled = run_kong("config", "parse", str(tmp_path / "kong.yml"),
                       env=_env(tmp_path, config, free_port(), KONG_PLUGINS="bundled"), home=tmp_path)
    assert bundled.returncode == 0, bundled.stderr


# The services' addresses as the render context gives them to the template (from the records).
INTERNAL_URLS = {s.name: s.internal_url for s in services.SERVICES if s.port}


def test_the_products_kong_template_parses(tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    template = Path(__file__).resolve().parents[2] / "templates" / "supabase" / "kong.yml"
    for full in (False, True):
        text = jinja2.Template(template.read_text()).render(full=full, internal=INTERNAL_URLS)
        config = substitute(text, KEYS)
        result = run_kong("config", "parse", str(tmp_path / "kong.yml"),
                          env=_env(tmp_path, config, free_port()), home=tmp_path)
        assert result.returncode == 0, result.stderr


def _product_gateway(spawn, tmp_path: Path, upstream: int, full: bool):
    """The product's kong.yml with every upstream host pointed at the echo server."""
    import re

    jinja2 = pytest.importorskip("jinja2")
    template = Path(__file__).resolve().parents[2] / "templates" / "supabase" / "kong.yml"
    text = jinja2.Template(template.read_text()).render(full=full, internal=INTERNAL_URLS)
    text = re.sub(r"http://[a-z.-]+:\d+", f"http://127.0.0.1:{upstream}", substitute(text, KEYS))
    port = free_port()
    return spawn("supabase-kong", "docker-start", env=_env(tmp_path, text, port), port=port)


@pytest.mark.parametrize("path", ["/realtime/v1/api/tenants", "/realtime/v1/api/tenants/realtime-dev/health",
                                  "/realtime/v1/api/openapi", "/mcp", "/api/mcp/tools"])
def test_product_gateway_blocks_realtimes_tenant_api_and_mcp(spawn, tmp_path, upstream, path):
    # supabase/supabase docker/volumes/api/kong.yml @ 1f37f2a9 (PR 46856): request-termination 403.
    kong = _product_gateway(spawn, tmp_path, upstream, full=True)
    for key in (KEYS["SUPABASE_ANON_KEY"], KEYS["SUPABASE_SERVICE_KEY"]):
        blocked = kong.get(path, {"apikey": key})
        assert blocked.status == 403 and blocked.json() == {"message": "Access is forbidden."}, path


def test_product_gateway_still_serves_the_rest_of_realtime_and_keeps_meta_admin_only(spawn, tmp_path, upstream):
    kong = _product_gateway(spawn, tmp_path, upstream, full=True)
    broadcast = kong.request("POST", "/realtime/v1/api/broadcast", {"messages": []},
                             {"apikey": KEYS["SUPABASE_ANON_KEY"]})
    assert broadcast.status == 200 and broadcast.json()["path"] == "/api/broadcast"
    assert kong.get("/realtime/v1/api/broadcast").status == 401
    assert kong.get("/pg/tables", {"apikey": KEYS["SUPABASE_ANON_KEY"]}).status == 403
    # The OpenAPI root is service role only (upstream kong.yml rest-v1-openapi); tables stay open.
    assert kong.get("/rest/v1/", {"apikey": KEYS["SUPABASE_ANON_KEY"]}).status == 403
    root = kong.get("/rest/v1/", {"apikey": KEYS["SUPABASE_SERVICE_KEY"]})
    assert root.status == 200 and root.json()["path"] == "/"
    assert kong.get("/rest/v1/notes?select=*", {"apikey": KEYS["SUPABASE_ANON_KEY"]}).json()["path"] == \
        "/notes?select=*"
    assert kong.get("/pg/tables", {"apikey": KEYS["SUPABASE_SERVICE_KEY"]}).status == 200
    graphql = kong.request("POST", "/graphql/v1", {"query": "{}"}, {"apikey": KEYS["SUPABASE_ANON_KEY"]})
    seen = {k.lower(): v for k, v in graphql.json()["headers"].items()}
    assert graphql.json()["path"] == "/rpc/graphql" and seen["content-profile"] == "graphql_public"
    assert kong.get("/functions/v1/hello").json()["path"] == "/hello", "the runtime checks the JWT itself"
    assert kong.get("/").status == 401
