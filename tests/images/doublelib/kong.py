"""Contract double of Kong (DB-less, declarative): key-auth, acl, basic-auth, routing, proxying."""
from __future__ import annotations

import base64
import http.client
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from common import env, log, refuse, reply, serve

BUNDLED = {"acl", "basic-auth", "cors", "key-auth", "request-transformer", "request-termination",
           "ip-restriction", "rate-limiting", "jwt", "oauth2", "response-transformer"}
PIDFILE = Path("/tmp/kong-double.pid")


def load() -> dict:
    path = Path(env("KONG_DECLARATIVE_CONFIG", "/home/kong/kong.yml"))
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        refuse(f"Error: failed parsing declarative configuration: {exc}")
    allowed = set()
    for name in env("KONG_PLUGINS", "bundled").split(","):
        allowed |= BUNDLED if name.strip() == "bundled" else {name.strip()}
    for service in config.get("services") or []:
        if not service.get("url"):
            refuse(f"Error: service {service.get('name')} has no url")
        for plugin in service.get("plugins") or []:
            if plugin["name"] not in allowed:
                refuse(f"Error: plugin '{plugin['name']}' not enabled; add it to 'plugins' configuration property")
    if "${" in path.read_text():
        refuse("Error: declarative configuration still contains an unsubstituted ${...} placeholder")
    return config


def build(config: dict):
    keys, users, groups = {}, {}, {}
    for consumer in config.get("consumers") or []:
        name = consumer["username"]
        for cred in consumer.get("keyauth_credentials") or []:
            keys[cred["key"]] = name
        for cred in consumer.get("basicauth_credentials") or []:
            users[(cred["username"], cred["password"])] = name
        for acl in consumer.get("acls") or []:
            groups.setdefault(name, set()).add(acl["group"])
    for acl in config.get("acls") or []:
        groups.setdefault(acl["consumer"], set()).add(acl["group"])
    routes = []
    for service in config.get("services") or []:
        for route in service.get("routes") or []:
            for path in route.get("paths") or []:
                routes.append((path, route.get("strip_path", True), service))
    routes.sort(key=lambda r: len(r[0]), reverse=True)
    return keys, users, groups, routes


def proxy(request, service: dict, rest: str, hide_key: bool):
    target = urlsplit(service["url"])
    path = (target.path.rstrip("/") + "/" + rest.lstrip("/")) if rest else (target.path or "/")
    query = request.raw_path.split("?", 1)[1] if "?" in request.raw_path else ""
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length", "connection")}
    if hide_key:
        headers.pop("apikey", None)
    try:
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        conn.request(request.method, path + (f"?{query}" if query else ""), body=request.body or None,
                     headers=headers)
        response = conn.getresponse()
        body = response.read()
    except OSError as exc:
        return reply(502, {"message": f"An invalid response was received from the upstream server ({exc})"})
    out = {k: v for k, v in response.getheaders() if k.lower() not in ("transfer-encoding", "connection",
                                                                     "content-length")}
    return response.status, out, body


def main() -> None:
    config = load()
    keys, users, groups, routes = build(config)
    log(f"{len(routes)} routes, {len(keys)} api keys")

    def handle(request):
        for prefix, strip, service in routes:
            if not (request.path.startswith(prefix) or request.path == prefix.rstrip("/")):
                continue
            consumer = None
            plugins = {p["name"]: p.get("config") or {} for p in service.get("plugins") or []}
            if "key-auth" in plugins:
                key = request.headers.get("apikey") or request.query.get("apikey")
                if not key:
                    return reply(401, {"message": "No API key found in request"})
                consumer = keys.get(key)
                if consumer is None:
                    return reply(401, {"message": "Invalid authentication credentials"})
            if "basic-auth" in plugins:
                raw = request.headers.get("authorization", "")
                try:
                    user, _, password = base64.b64decode(raw[6:]).decode().partition(":") if raw[:6].lower() \
                        == "basic " else ("", "", "")
                except ValueError:
                    user, password = "", ""
                consumer = users.get((user, password))
                if consumer is None:
                    return reply(401, {"message": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="service"'})
            if "acl" in plugins:
                allow = set(plugins["acl"].get("allow") or [])
                if not (groups.get(consumer or "", set()) & allow):
                    return reply(403, {"message": "You cannot consume this service"})
            rest = request.path[len(prefix):] if strip else request.path
            return proxy(request, service, rest, plugins.get("key-auth", {}).get("hide_credentials", False))
        return reply(404, {"message": "no Route matched with those values"})

    PIDFILE.write_text("running")
    serve(handle, 8000)


def cli(argv: list[str]) -> None:
    if argv[:1] == ["health"]:
        import urllib.request

        try:
            urllib.request.urlopen("http://127.0.0.1:8000/__kong_double_health", timeout=3)
        except urllib.error.HTTPError:
            print("Kong is healthy at /usr/local/kong")
            return
        except OSError:
            print("Error: Kong is not running", file=sys.stderr)
            sys.exit(1)
        print("Kong is healthy")
    elif argv[:1] in (["docker-start"], ["start"]):
        main()
    else:
        refuse(f"Error: unknown command {' '.join(argv)}")


if __name__ == "__main__":
    cli(sys.argv[1:])
