"""Contract double of kong/kong:3.9.3 in DB-less mode: validates the declarative config the way Kong
does (plugins enabled, references, non-empty keys, no leftover ${...}), then routes by longest path
prefix with strip_path, enforces cors, key-auth, basic-auth, acl, request-transformer and
request-termination, and proxies to the upstream over HTTP. `kong health` answers from the prefix's
pid file like Kong. Facts from Kong/kong @ 3.9.3 (paths cited where each rule is applied)."""
from __future__ import annotations

import base64
import http.client
import os
import re
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus, urlencode, urlsplit

import yaml
from doublelib.common import Request, Response, env, listen_address, log, reply, serve, setup

VERSION = "3.9.3"
PREFIX = Path(env("KONG_PREFIX", "/usr/local/kong"))
PIDFILE = PREFIX / "pids" / "nginx.pid"
BUNDLED = ("jwt", "acl", "correlation-id", "cors", "oauth2", "tcp-log", "udp-log", "file-log", "http-log",
           "key-auth", "hmac-auth", "basic-auth", "ip-restriction", "request-transformer", "response-transformer",
           "request-size-limiting", "rate-limiting", "response-ratelimiting", "syslog", "loggly", "datadog",
           "ldap-auth", "statsd", "bot-detection", "aws-lambda", "request-termination", "prometheus", "proxy-cache",
           "session", "acme", "grpc-gateway", "grpc-web", "pre-function", "post-function", "azure-functions",
           "zipkin", "opentelemetry", "ai-proxy", "ai-prompt-decorator", "ai-prompt-template", "ai-prompt-guard",
           "ai-request-transformer", "ai-response-transformer", "standard-webhooks", "redirect")
# kong/constants.lua (3.9.3) `local plugins`; priorities from each plugin's handler.lua.
PRIORITY = {"cors": 2000, "key-auth": 1250, "basic-auth": 1001, "acl": 950, "request-transformer": 801,
            "request-termination": 2}
CONFIG_FIELDS = {
    "key-auth": {"key_names", "hide_credentials", "anonymous", "key_in_header", "key_in_query", "key_in_body",
                 "run_on_preflight", "realm"},
    "basic-auth": {"anonymous", "hide_credentials", "realm"},
    "acl": {"allow", "deny", "hide_groups_header", "always_use_authenticated_groups"},
    "cors": {"origins", "headers", "exposed_headers", "methods", "max_age", "credentials", "private_network",
             "preflight_continue"},
    "request-transformer": {"http_method", "remove", "rename", "replace", "add", "append"},
    "request-termination": {"status_code", "message", "content_type", "body", "echo", "trigger"},
}
# kong/plugins/request-termination/handler.lua DEFAULT_RESPONSE (3.9.3)
TERMINATION_DEFAULT = {401: "Unauthorized", 404: "Not found", 405: "Method not allowed",
                       500: "An unexpected error occurred", 502: "Bad Gateway", 503: "Service unavailable"}
PLUGIN_ENTITIES = {"acls": "acl", "keyauth_credentials": "key-auth", "basicauth_credentials": "basic-auth",
                   "jwt_secrets": "jwt", "hmacauth_credentials": "hmac-auth", "oauth2_credentials": "oauth2"}
TOP_LEVEL = {"_format_version", "_transform", "_comment", "_workspace", "services", "routes", "consumers", "plugins",
             "upstreams", "targets", "certificates", "ca_certificates", "snis", *PLUGIN_ENTITIES}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
              "content-length", "host"}
FORWARDED = {"x-real-ip", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
             "x-forwarded-path", "x-forwarded-prefix"}
CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"


class ConfigError(Exception):
    pass


@dataclass
class Consumer:
    username: str
    groups: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kong-consumer:{self.username}"))


@dataclass
class Route:
    name: str
    path: str
    strip_path: bool
    preserve_host: bool
    path_handling: str
    methods: list[str]
    hosts: list[str]
    service: dict[str, object]
    plugins: list[tuple[str, dict[str, object]]]
    regex_priority: int = 0

    @property
    def regex(self) -> re.Pattern[str] | None:
        """A `~` path is a regex anchored at the start of the path (Kong 3 format)."""
        return re.compile(self.path[1:]) if self.path.startswith("~") else None

    def matched(self, path: str) -> int | None:
        """Length of the matched prefix of `path`, or None."""
        pattern = self.regex
        if pattern is None:
            return len(self.path) if path.startswith(self.path) else None
        found = pattern.match(path)
        return found.end() if found else None


@dataclass
class Gateway:
    routes: list[Route]
    consumers: dict[str, Consumer]
    keys: dict[str, str]                      # api key -> consumer username
    passwords: dict[str, tuple[str, str]]     # basic-auth username -> (password, consumer)


# -- configuration ------------------------------------------------------------------------------

def enabled_plugins() -> set[str]:
    """KONG_PLUGINS: a comma list; `bundled` means Kong's bundled plugins, `off` none."""
    enabled: set[str] = set()
    for name in (n.strip() for n in env("KONG_PLUGINS", "bundled").split(",")):
        if name == "bundled":
            enabled |= set(BUNDLED)
        elif name and name != "off":
            if name not in BUNDLED:
                raise ConfigError(f"Error: the plugin '{name}' is enabled in KONG_PLUGINS but not installed")
            enabled.add(name)
    return enabled


def _placeholders(node: object, where: str) -> None:
    """A ${...} left in the file means the entrypoint's substitution did not happen."""
    if isinstance(node, dict):
        for key, value in node.items():
            _placeholders(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _placeholders(value, f"{where}[{i}]")
    elif isinstance(node, str) and "${" in node:
        raise ConfigError(f"Error: declarative config still contains an unsubstituted '${{...}}' at {where}")


def _nonempty(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}': "
                          f"{'required field missing' if value is None else 'length must be at least 1'}")
    return value


def _service_url(service: dict[str, object], where: str) -> dict[str, object]:
    url = service.get("url")
    if not url and not service.get("host"):
        raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}': at least one of these "
                          "fields must be non-empty: 'url', 'host'")
    if url:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https", "grpc", "grpcs", "tcp", "tls") or not parts.hostname:
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}.url': "
                              "missing host in url")
        return {"protocol": parts.scheme, "host": parts.hostname,
                "port": parts.port or (443 if parts.scheme == "https" else 80), "path": parts.path or None}
    protocol = str(service.get("protocol") or "http")
    return {"protocol": protocol, "host": service["host"],
            "port": int(service.get("port") or (443 if protocol == "https" else 80)), "path": service.get("path")}


def _plugins(items: object, enabled: set[str], where: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for i, plugin in enumerate(items or []):  # type: ignore[attr-defined]
        here = f"{where}.plugins[{i}]"
        if not isinstance(plugin, dict):
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{here}': expected a record")
        name = _nonempty(plugin.get("name"), f"{here}.name")
        if name not in enabled:
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{here}.name': plugin '{name}' "
                              "not enabled; add it to the 'plugins' configuration property")
        config = plugin.get("config") or {}
        if not isinstance(config, dict):
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{here}.config': "
                              "expected a record")
        unknown = set(config) - CONFIG_FIELDS.get(name, set(config))
        if unknown:
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{here}.config."
                              f"{sorted(unknown)[0]}': unknown field")
        if name == "acl" and not (config.get("allow") or config.get("deny")):
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{here}.config': at least one "
                              "of these fields must be non-empty: 'config.allow', 'config.deny'")
        if name == "acl" and config.get("allow") and config.get("deny"):
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{here}.config': only one "
                              "of these fields must be non-empty: 'config.allow', 'config.deny'")
        if name == "request-termination":
            _termination_config(config, f"{here}.config")
        if plugin.get("enabled", True) is False:
            continue
        if name not in PRIORITY:
            log(f"plugin {name} ({where}) is accepted but not enforced by the double")
        out.append((name, config))
    return out


def _termination_config(config: dict[str, object], where: str) -> None:
    """kong/plugins/request-termination/schema.lua (3.9.3): status 100-599, message xor body."""
    status = config.get("status_code", 503)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}.status_code': "
                          "value should be between 100 and 599")
    if config.get("message") and (config.get("content_type") or config.get("body")):
        raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}': "
                          "message cannot be used with content_type or body")
    if config.get("content_type") and not config.get("body"):
        raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}': "
                          "content_type requires a body")


def _merge(*levels: list[tuple[str, dict[str, object]]]) -> list[tuple[str, dict[str, object]]]:
    """The most specific level wins per plugin name (route > service > global)."""
    chosen: dict[str, dict[str, object]] = {}
    for level in levels:
        for name, config in level:
            chosen[name] = config
    return sorted(chosen.items(), key=lambda item: -PRIORITY.get(item[0], 0))


def load(text: str, enabled: set[str]) -> Gateway:
    """Parse and check a declarative config like Kong 3.9 does when it starts."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("Error: failed parsing declarative configuration: "
                          + " ".join(str(exc).split())) from exc
    if not isinstance(config, dict):
        raise ConfigError("Error: failed parsing declarative configuration: expected an object")
    # kong/db/schema/others/declarative_config.lua:254 (3.9.3): one_of {"1.1", "2.1", "3.0"}
    if str(config.get("_format_version")) not in ("1.1", "2.1", "3.0"):
        raise ConfigError("Error: failed parsing declarative configuration: in '_format_version': "
                          + ("required field missing" if "_format_version" not in config
                             else "expected one of: 1.1, 2.1, 3.0"))
    for key in config:
        if key not in TOP_LEVEL or (key in PLUGIN_ENTITIES and PLUGIN_ENTITIES[key] not in enabled):
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{key}': unknown field")
    _placeholders(config, "")
    consumers: dict[str, Consumer] = {}
    keys: dict[str, str] = {}
    passwords: dict[str, tuple[str, str]] = {}
    acls = list(config.get("acls") or [])
    for i, item in enumerate(config.get("consumers") or []):
        where = f"consumers[{i}]"
        name = _nonempty(item.get("username") or item.get("custom_id"), f"{where}.username")
        if name in consumers:
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}': uniqueness violation: "
                              f"'consumers' entity with username set to '{name}' already declared")
        consumers[name] = Consumer(name)
        for entity, plugin in PLUGIN_ENTITIES.items():
            if item.get(entity) and plugin not in enabled:
                raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}.{entity}': "
                                  "unknown field")
        for j, cred in enumerate(item.get("keyauth_credentials") or []):
            key = _nonempty(cred.get("key"), f"{where}.keyauth_credentials[{j}].key")
            if key in keys:
                raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}.keyauth_credentials"
                                  f"[{j}]': uniqueness violation: 'keyauth_credentials' entity with the same key "
                                  "already declared")
            keys[key] = name
        for j, cred in enumerate(item.get("basicauth_credentials") or []):
            user = _nonempty(cred.get("username"), f"{where}.basicauth_credentials[{j}].username")
            password = _nonempty(cred.get("password"), f"{where}.basicauth_credentials[{j}].password")
            passwords[user] = (password, name)
        acls += [{"consumer": name, "group": acl.get("group")} for acl in item.get("acls") or []]
    for i, acl in enumerate(acls):
        consumer = acl.get("consumer")
        if isinstance(consumer, dict):
            consumer = consumer.get("username") or consumer.get("id")
        if consumer not in consumers:
            raise ConfigError(f"Error: failed parsing declarative configuration: in 'acls[{i}].consumer': invalid "
                              f"reference 'consumer: {consumer}' (no such entry in 'consumers')")
        consumers[consumer].groups.add(_nonempty(acl.get("group"), f"acls[{i}].group"))
    global_plugins = _plugins(config.get("plugins"), enabled, "")
    routes: list[Route] = []
    services = {}
    for i, service in enumerate(config.get("services") or []):
        where = f"services[{i}]"
        if not isinstance(service, dict):
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}': expected a record")
        service["_upstream"] = _service_url(service, where)
        service["_plugins"] = _plugins(service.get("plugins"), enabled, where)
        services[service.get("name") or f"#{i}"] = service
        for j, route in enumerate(service.get("routes") or []):
            routes += _routes(route, service, global_plugins, enabled, f"{where}.routes[{j}]")
    for j, route in enumerate(config.get("routes") or []):
        ref = route.get("service")
        ref = ref.get("name") if isinstance(ref, dict) else ref
        if ref not in services:
            raise ConfigError(f"Error: failed parsing declarative configuration: in 'routes[{j}].service': invalid "
                              f"reference 'service: {ref}' (no such entry in 'services')")
        routes += _routes(route, services[ref], global_plugins, enabled, f"routes[{j}]")
    # kong/router/transform.lua get_priority (3.9.3): a regex path outranks every plain path
    # (REGEX_URL_BIT), regex paths by regex_priority; plain paths longest first.
    routes.sort(key=lambda r: (r.regex is None, -r.regex_priority, -len(r.path)))
    return Gateway(routes, consumers, keys, passwords)


def _routes(route: dict[str, object], service: dict[str, object], global_plugins: list[tuple[str, dict[str, object]]],
            enabled: set[str], where: str) -> list[Route]:
    paths = route.get("paths") or []
    if not isinstance(paths, list) or not (paths or route.get("hosts") or route.get("methods")
                                           or route.get("headers")):
        raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}': must set one of "
                          "'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'")
    for k, path in enumerate(paths):
        if not isinstance(path, str) or not (path.startswith("/") or path.startswith("~/")):
            raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}.paths[{k}]': "
                              "should start with: / (fixed path) or ~/ (regex path)")
        if path.startswith("~"):
            try:
                re.compile(path[1:])
            except re.error as exc:
                raise ConfigError(f"Error: failed parsing declarative configuration: in '{where}.paths[{k}]': "
                                  f"invalid regex: '{path[1:]}' ({exc})") from None
    plugins = _merge(global_plugins, service["_plugins"], _plugins(route.get("plugins"), enabled, where))  # type: ignore[arg-type]
    return [Route(str(route.get("name") or ""), path, route.get("strip_path", True) is not False,
                  bool(route.get("preserve_host")), str(route.get("path_handling") or "v0"),
                  [str(m).upper() for m in route.get("methods") or []], [str(h) for h in route.get("hosts") or []],
                  service, plugins, int(route.get("regex_priority") or 0))  # type: ignore[call-overload]
            for path in (paths or ["/"])]


# -- proxying -----------------------------------------------------------------------------------

def kong_error(status: int, message: str, headers: dict[str, str] | None = None,
               request_id: str = "") -> Response:
    """kong.response.error: JSON body with the request id (kong/tools/http.lua error templates)."""
    request_id = request_id or uuid.uuid4().hex
    return reply(status, {"message": message, "request_id": request_id},
                 {"Content-Type": "application/json; charset=utf-8", "Server": f"kong/{VERSION}",
                  "X-Kong-Request-Id": request_id, **(headers or {})})


def upstream_path(route: Route, request_path: str) -> str:
    """Kong's path joining after strip_path (path_handling v0, Kong 2.8's default, or v1)."""
    base = str(route.service["_upstream"]["path"] or "/")  # type: ignore[index]
    rest = request_path[route.matched(request_path) or 0:] if route.strip_path else request_path
    if route.path_handling == "v1":
        return (base[:-1] + rest if base.endswith("/") and rest.startswith("/") else base + rest) or "/"
    if not route.strip_path:
        if base.endswith("/"):
            return base + request_path[1:]
        return base if request_path == "/" else base + request_path
    if base.endswith("/"):
        if rest == "":
            return "/" if base == "/" else (base if request_path.endswith("/") else base[:-1])
        return base[:-1] + rest if rest.startswith("/") else base + rest
    if rest == "":
        return base + "/" if len(request_path) > 1 and request_path.endswith("/") else base
    return base + rest if rest.startswith("/") else base + "/" + rest


class Gate:
    """One request's way through the plugins; auth plugins fill in the consumer."""

    def __init__(self, gateway: Gateway, route: Route, request: Request) -> None:
        self.gateway, self.route, self.request = gateway, route, request
        self.headers = [(k, v) for k, v in request.headers]
        self.query_removed: set[str] = set()
        self.query_added: list[tuple[str, str]] = []
        self.consumer: Consumer | None = None
        self.extra_response: dict[str, str] = {}
        self.request_id = uuid.uuid4().hex  # headers / headers_upstream = x-kong-request-id (kong_defaults.lua)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def set_header(self, name: str, value: str | None) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))

    def identify(self, username: str) -> None:
        self.consumer = self.gateway.consumers[username]
        self.set_header("X-Consumer-ID", self.consumer.id)
        self.set_header("X-Consumer-Username", self.consumer.username)
        self.set_header("X-Anonymous-Consumer", None)

    def anonymous(self, config: dict[str, object]) -> bool:
        name = str(config.get("anonymous") or "")
        if name and name in self.gateway.consumers:
            self.identify(name)
            self.set_header("X-Anonymous-Consumer", "true")
            return True
        return False

    def cors(self, config: dict[str, object]) -> Response | None:
        origins = [str(o) for o in config.get("origins") or []]
        origin = self.header("Origin")
        if not origins or "*" in origins:
            self.extra_response["Access-Control-Allow-Origin"] = "*"
        elif origin in origins:
            self.extra_response.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
        if config.get("credentials"):
            self.extra_response["Access-Control-Allow-Credentials"] = "true"
        if config.get("exposed_headers"):
            self.extra_response["Access-Control-Expose-Headers"] = ",".join(config["exposed_headers"])  # type: ignore[arg-type]
        preflight = (self.request.method == "OPTIONS" and origin and self.header("Access-Control-Request-Method"))
        if not preflight or config.get("preflight_continue"):
            return None
        headers = dict(self.extra_response)
        headers["Access-Control-Allow-Methods"] = ",".join(config.get("methods") or []) or CORS_METHODS  # type: ignore[arg-type]
        allow_headers = ",".join(config.get("headers") or []) or self.header("Access-Control-Request-Headers")  # type: ignore[arg-type]
        if allow_headers:
            headers["Access-Control-Allow-Headers"] = allow_headers
        if config.get("max_age"):
            headers["Access-Control-Max-Age"] = str(config["max_age"])
        return Response(200, {"Server": f"kong/{VERSION}", **headers}, b"")

    def key_auth(self, config: dict[str, object]) -> Response | None:
        names = [str(n) for n in config.get("key_names") or ["apikey"]]
        key, found_in = "", ""
        for name in names:
            if config.get("key_in_header", True) is not False and self.header(name):
                key, found_in = self.header(name), "header"
                break
            value = self.request.query.get(name)
            if config.get("key_in_query", True) is not False and value:
                key, found_in = value, "query"
                break
        # kong/plugins/key-auth/handler.lua:114 (3.9.3): `Key`, or `Key realm="..."` when configured
        realm = {"WWW-Authenticate": f'Key realm="{config["realm"]}"' if config.get("realm") else "Key"}
        if not key:
            if self.anonymous(config):
                return None
            return kong_error(401, "No API key found in request", realm, self.request_id)
        username = self.gateway.keys.get(key)
        if username is None:
            log(f"key-auth: the {found_in} key matches no consumer")
            return None if self.anonymous(config) else kong_error(401, "Unauthorized", realm, self.request_id)
        self.identify(username)
        self.set_header("X-Credential-Identifier", str(uuid.uuid5(uuid.NAMESPACE_URL, f"kong-key:{username}")))
        if config.get("hide_credentials"):
            for name in names:
                self.set_header(name, None)
            self.query_removed.update(names)
        return None

    def basic_auth(self, config: dict[str, object]) -> Response | None:
        raw = self.header("Authorization") or self.header("Proxy-Authorization")
        scheme, _, token = raw.partition(" ")
        if scheme.lower() != "basic" or not token:
            if self.anonymous(config):
                return None
            return kong_error(401, "Unauthorized", self.basic_realm(config), self.request_id)
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        known = self.gateway.passwords.get(user)
        if known is None or known[0] != password:
            log("basic-auth: unknown user or wrong password")
            return None if self.anonymous(config) else kong_error(401, "Unauthorized", self.basic_realm(config),
                                                                  self.request_id)
        self.identify(known[1])
        if config.get("hide_credentials"):
            self.set_header("Authorization", None)
            self.set_header("Proxy-Authorization", None)
        return None

    @staticmethod
    def basic_realm(config: dict[str, object]) -> dict[str, str]:
        """kong/plugins/basic-auth/access.lua:160 with the schema's default realm "service" (3.9.3)."""
        return {"WWW-Authenticate": f'Basic realm="{config.get("realm") or "service"}"'}

    def acl(self, config: dict[str, object]) -> Response | None:
        if self.consumer is None:
            return kong_error(401, "Unauthorized", request_id=self.request_id)
        groups = self.consumer.groups
        allow, deny = set(config.get("allow") or []), set(config.get("deny") or [])  # type: ignore[arg-type]
        if (allow and not groups & allow) or (deny and groups & deny):
            log(f"acl: consumer {self.consumer.username} is not allowed on route {self.route.name or self.route.path}")
            return kong_error(403, "You cannot consume this service", request_id=self.request_id)
        if not config.get("hide_groups_header"):
            self.set_header("X-Consumer-Groups", ", ".join(sorted(groups)))
        return None

    def request_transformer(self, config: dict[str, object]) -> Response | None:
        def pairs(section: str, kind: str) -> list[tuple[str, str]]:
            items = ((config.get(section) or {}).get(kind) or [])  # type: ignore[union-attr]
            return [(str(i).partition(":")[0], str(i).partition(":")[2]) for i in items]

        for name, _ in pairs("remove", "headers"):
            self.set_header(name, None)
        for name, value in pairs("rename", "headers"):
            if self.header(name):
                old = self.header(name)
                self.set_header(name, None)
                self.set_header(value, old)
        for name, value in pairs("replace", "headers"):
            if self.header(name):
                self.set_header(name, value)
        for name, value in pairs("add", "headers"):
            if not self.header(name):
                self.set_header(name, value)
        for name, value in pairs("append", "headers"):
            self.headers.append((name, value))
        self.query_removed.update(name for name, _ in pairs("remove", "querystring"))
        self.query_added += [(k, v) for k, v in pairs("add", "querystring") if k not in self.request.query]
        return None

    def request_termination(self, config: dict[str, object]) -> Response | None:
        """kong/plugins/request-termination/handler.lua access() (3.9.3), without echo."""
        trigger = str(config.get("trigger") or "")
        if trigger and not self.header(trigger) and trigger not in self.request.query:
            return None
        status = int(config.get("status_code") or 503)  # type: ignore[call-overload]
        base = {"Server": f"kong/{VERSION}", "X-Kong-Request-Id": self.request_id}
        if config.get("echo"):
            log("request-termination: echo is not implemented by the double")
        if config.get("body"):
            headers = {**base, **({"Content-Type": str(config["content_type"])} if config.get("content_type") else {})}
            return Response(status, headers, str(config["body"]).encode())
        message = config.get("message") or TERMINATION_DEFAULT.get(status)
        if message is None:
            return Response(status, base, b"")
        return reply(status, {"message": message}, {"Content-Type": "application/json; charset=utf-8", **base})

    def query_string(self) -> str:
        """The request's query as sent (not re-encoded), minus removed and plus added parameters."""
        kept = [part for part in self.request.raw_query.split("&")
                if part and unquote_plus(part.split("=", 1)[0]) not in self.query_removed]
        return "&".join(kept + ([urlencode(self.query_added)] if self.query_added else []))


def forward(gate: Gate) -> Response:
    request, route = gate.request, gate.route
    upstream = route.service["_upstream"]
    if upstream["protocol"] != "http":  # type: ignore[index]
        log(f"service {route.service.get('name')}: {upstream['protocol']} upstreams are not proxied by the double")  # type: ignore[index]
        return kong_error(502, "An invalid response was received from the upstream server")
    if gate.header("Upgrade").lower() == "websocket":
        return kong_error(501, "the Kong contract double does not proxy WebSockets")
    host, port = str(upstream["host"]), int(upstream["port"])  # type: ignore[index]
    path = upstream_path(route, request.raw_path.split("?", 1)[0])
    query = gate.query_string()
    target = path + (f"?{query}" if query else "")
    headers = [(k, v) for k, v in gate.headers if k.lower() not in HOP_BY_HOP and k.lower() not in FORWARDED]
    incoming_host = request.header("Host")
    headers += [("Host", incoming_host if route.preserve_host and incoming_host else
                 (host if port == 80 else f"{host}:{port}")),
                ("X-Real-IP", request.client),
                ("X-Forwarded-For", ", ".join(filter(None, [request.header("X-Forwarded-For"), request.client]))),
                ("X-Forwarded-Proto", "http"), ("X-Forwarded-Host", incoming_host.split(":")[0]),
                ("X-Forwarded-Port", str(PROXY_PORT)), ("X-Forwarded-Path", request.raw_path.split("?", 1)[0]),
                ("X-Kong-Request-Id", gate.request_id)]
    stripped = request.raw_path.split("?", 1)[0][:route.matched(request.raw_path.split("?", 1)[0]) or 0]
    if route.strip_path and stripped.rstrip("/"):
        headers.append(("X-Forwarded-Prefix", stripped.rstrip("/")))
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
        for key, value in headers:
            connection.putheader(key, value)
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        body = response.read()
    except socket.gaierror:
        log(f"upstream {host}: name resolution failed")
        return kong_error(503, "name resolution failed")
    except TimeoutError:
        return kong_error(504, "The upstream server is timing out")
    except (OSError, http.client.HTTPException) as exc:
        log(f"upstream {host}:{port}: {type(exc).__name__}")
        return kong_error(502, "An invalid response was received from the upstream server")
    finally:
        connection.close()
    latency = int((time.monotonic() - started) * 1000)
    out = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
    out += [("X-Kong-Upstream-Latency", str(latency)), ("X-Kong-Proxy-Latency", "0"), ("Via", f"1.1 kong/{VERSION}"),
            ("X-Kong-Request-Id", gate.request_id)]
    return Response(response.status, out, body)


def handler(gateway: Gateway):
    def handle(request: Request) -> Response:
        path = request.raw_path.split("?", 1)[0]
        host = request.header("Host").split(":")[0]
        route = next((r for r in gateway.routes if r.matched(path) is not None
                      and (not r.methods or request.method in r.methods) and (not r.hosts or host in r.hosts)), None)
        if route is None:
            return kong_error(404, "no Route matched with those values")
        gate = Gate(gateway, route, request)
        for name, config in route.plugins:
            step = getattr(gate, name.replace("-", "_"), None)
            answer = step(config) if step else None
            if answer is not None:
                if isinstance(answer.headers, dict):
                    answer.headers.update(gate.extra_response)
                return answer
        response = forward(gate)
        if isinstance(response.headers, list):
            names = {k.lower() for k, _ in response.headers}
            response.headers += [(k, v) for k, v in gate.extra_response.items() if k.lower() not in names]
        else:
            response.headers.update(gate.extra_response)
        who = gate.consumer.username if gate.consumer else "-"
        log(f"{request.method} {path} route={route.name or route.path} consumer={who} -> {response.status}")
        return response

    return handle


# -- CLI ----------------------------------------------------------------------------------------

def read_config() -> Gateway:
    enabled = enabled_plugins()
    database = env("KONG_DATABASE", "postgres")
    if database != "off":
        raise ConfigError(f"Error: KONG_DATABASE={database}: the Kong contract double only runs DB-less "
                          "(KONG_DATABASE=off)")
    path = env("KONG_DECLARATIVE_CONFIG")
    if not path:
        log("no KONG_DECLARATIVE_CONFIG: starting with an empty configuration")
        return Gateway([], {}, {}, {})
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"Error: failed loading declarative config file {path}: {exc.strerror}") from exc
    gateway = load(text, enabled)
    log(f"loaded {path}: {len(gateway.routes)} route paths, {len(gateway.consumers)} consumers, "
        f"{len(gateway.keys)} api keys, plugins enabled: {','.join(sorted(enabled & set(PRIORITY)))}")
    return gateway


PROXY_PORT = 8000


def start() -> None:
    global PROXY_PORT
    try:
        gateway = read_config()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    listen = env("KONG_PROXY_LISTEN", "0.0.0.0:8000").split(",")[0].split()[0]
    host, PROXY_PORT = listen_address(listen, 8000)
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text(f"{os.getpid()}\n")
    try:
        serve(handler(gateway), PROXY_PORT, host, quiet=lambda _r: True, stop_signals=(signal.SIGQUIT,))
    finally:
        PIDFILE.unlink(missing_ok=True)


def health() -> None:
    try:
        pid = int(PIDFILE.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        print(f"Error: Kong is not running at {PREFIX}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"nginx.......running\n\nKong is healthy at {PREFIX}")


def main(argv: list[str]) -> None:
    setup("kong")
    command = argv[0] if argv else "help"
    if command in ("docker-start", "start"):
        start()
    elif command == "health":
        health()
    elif command in ("version", "--version", "-v"):
        print(VERSION)
    elif command == "config" and argv[1:2] == ["parse"] and len(argv) >= 3:
        try:
            load(Path(argv[2]).read_text(), enabled_plugins())
        except (ConfigError, OSError) as exc:
            print(str(exc), file=sys.stderr)
            raise SystemExit(1) from None
        print("parse successful")
    elif command in ("quit", "stop"):
        try:
            os.kill(int(PIDFILE.read_text().strip()), signal.SIGQUIT)
        except (OSError, ValueError):
            print(f"Error: Kong is not running at {PREFIX}", file=sys.stderr)
            raise SystemExit(1) from None
        print("Kong stopped")
    else:
        print(f"Error: unknown command {command!r} (the Kong double knows docker-start, start, health, version, "
              "config parse, quit)", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
