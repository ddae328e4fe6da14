"""Contract double of timberio/vector (the Supabase log collector): `vector --config FILE` loads the
file as Vector does (environment interpolation first, with Vector's own rules, then YAML, then the
component graph), exits 78 on a configuration error, and serves the API's `/health` on api.address.

Upstream facts: vectordotdev/vector @ v0.53.0 (the pinned timberio/vector:0.53.0-alpine).
Limits: it ships no logs (the docker_logs source and the http sink are checked, not run) and does
not compile VRL (a remap `source` is only required to be present).
"""
from __future__ import annotations

import os
import re
import sys
import time

import yaml
from doublelib.common import listen_address, log, on_stop, reply, serve, setup

CONFIG_EXIT = 78   # exitcode::CONFIG (src/app.rs:105,126)
DEFAULT_CONFIG = "/etc/vector/vector.yaml"   # distribution/docker/alpine/Dockerfile:27
# src/config/vars.rs:12-20, the same pattern: $$, $NAME, ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?e}, ${NAME?e}
INTERPOLATION = re.compile(r"\$\$|\$([\w.]+)|\$\{([\w.]+)(?:(:?-|:?\?)([^}]*))?\}", re.ASCII)
KNOWN = {"sources": {"docker_logs", "file", "stdin", "internal_logs", "internal_metrics", "http_server",
                     "demo_logs", "socket", "syslog"},
         "transforms": {"remap", "filter", "route", "reduce", "dedupe", "throttle", "sample"},
         "sinks": {"http", "console", "blackhole", "file", "loki", "elasticsearch", "prometheus_exporter"}}
TOP_LEVEL = {"api", "sources", "transforms", "sinks", "data_dir", "timezone", "schema", "enrichment_tables",
             "secret", "healthchecks", "acknowledgements", "log_schema", "expire_metrics_secs", "tests",
             "proxy", "telemetry"}


def interpolate(text: str, environ: dict[str, str]) -> tuple[str, list[str]]:
    """src/config/vars.rs:23-85: the flags decide what a missing or empty variable does; values with a
    newline are refused."""
    errors: list[str] = []

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name is None:
            return "$"   # vars.rs:75: `$$` becomes `$` (test at vars.rs:108)
        flags, extra = match.group(3) or "", match.group(4) or ""
        value = environ.get(name)
        if value is not None and ("\n" in value or "\r" in value):
            errors.append(f'Environment variable contains newline character. name = "{name}"')
            value = None
        if flags == ":-":
            return value if value else extra
        if flags == "-":
            return extra if value is None else value
        if flags == ":?":
            if value:
                return value
            errors.append(f'Non-empty environment variable required in config. name = "{name}", error = "{extra}"')
            return ""
        if flags == "?":
            if value is None:
                errors.append(f'Missing environment variable required in config. name = "{name}", error = "{extra}"')
                return ""
            return value
        if value is None:
            errors.append(f'Missing environment variable in config. name = "{name}"')
            return ""
        return value

    return INTERPOLATION.sub(one, text), errors


def graph_errors(config: dict) -> list[str]:
    """The checks Vector makes before it builds anything: known keys and component types, inputs that
    name existing components, the sink/transform fields we rely on."""
    errors = [f"unknown field `{key}`" for key in config if key not in TOP_LEVEL]
    names: dict[str, str] = {}
    for kind in ("sources", "transforms", "sinks"):
        for name, component in (config.get(kind) or {}).items():
            if not isinstance(component, dict) or "type" not in component:
                errors.append(f'{kind[:-1]} "{name}": missing field `type`')
                continue
            if component["type"] not in KNOWN[kind]:
                errors.append(f'{kind[:-1]} "{name}": unknown variant `{component["type"]}`')
            names[name] = kind
    if not config.get("sources"):
        errors.append("No sources defined in the config.")
    if not config.get("sinks"):
        errors.append("No sinks defined in the config.")
    for kind in ("transforms", "sinks"):
        for name, component in (config.get(kind) or {}).items():
            if not isinstance(component, dict):
                continue
            inputs = component.get("inputs")
            if not inputs:
                errors.append(f'{kind[:-1]} "{name}" has no inputs')
            for source in inputs or []:
                if source not in names or names[source] == "sinks":
                    errors.append(f'Input "{source}" for {kind[:-1]} "{name}" doesn\'t match any components.')
            if component.get("type") == "remap" and not (component.get("source") or component.get("file")):
                errors.append(f'transform "{name}": must provide exactly one of `source` or `file`')
            if component.get("type") == "http":
                if not component.get("uri"):
                    errors.append(f'sink "{name}": missing field `uri`')
                if not (component.get("encoding") or {}).get("codec"):
                    errors.append(f'sink "{name}": missing field `codec`')
    return errors


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        fail([f"Could not open file {path}: {exc.strerror}"])
    text, errors = interpolate(text, dict(os.environ))
    if errors:
        fail(errors)
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        fail([f"{path}: {str(exc).splitlines()[0]}"])
    if not isinstance(config, dict):
        fail([f"{path}: invalid type: expected a map"])
    errors = graph_errors(config)
    if errors:
        fail(errors)
    return config


def fail(errors: list[str]) -> None:
    """src/cli.rs:422: "Configuration error." with the errors, then exit 78."""
    print(f"ERROR vector::cli: Configuration error. error={'; '.join(errors)}", file=sys.stderr, flush=True)
    raise SystemExit(CONFIG_EXIT)


def main(argv: list[str]) -> None:
    setup("vector")
    paths: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in ("-c", "--config", "--config-yaml"):
            paths.append(next(args, ""))
        elif arg.startswith("--config="):
            paths.append(arg.split("=", 1)[1])
        elif arg in ("--version", "-V"):
            print("vector 0.53.0 (x86_64-unknown-linux-musl contract double)")
            return
        else:
            print(f"error: unexpected argument '{arg}' found", file=sys.stderr)
            raise SystemExit(2)
    paths = paths or [os.environ.get("VECTOR_CONFIG", DEFAULT_CONFIG)]
    config: dict = {}
    for path in paths:
        config.update(load(path))
    for name, source in (config.get("sources") or {}).items():
        if source.get("type") == "docker_logs":
            sock = (os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock").removeprefix("unix://")
            state = "reachable" if os.path.exists(sock) else "missing (Vector retries)"
            log(f'source "{name}": docker socket {sock} {state}; the double ships no logs')
    api = config.get("api") or {}
    if not api.get("enabled"):
        log("API disabled; nothing to serve")
        on_stop()
        while True:
            time.sleep(3600)
    # src/config/api.rs:64-69: default 127.0.0.1:8686
    host, port = listen_address(str(api.get("address") or "127.0.0.1:8686"), 8686)

    def handle(request):
        # src/api/server.rs:104-106 + src/api/handler.rs:11-22: warp::path("health") -> {"ok": true}
        if request.path == "/health" or request.path.startswith("/health/"):
            return reply(200, {"ok": True})
        if request.path == "/graphql":
            return reply(400, {"errors": [{"message": "the double has no GraphQL API"}]})
        return reply(404, "")

    log(f"loaded {len(config.get('sources') or {})} source(s), {len(config.get('sinks') or {})} sink(s)")
    serve(handle, port, host, quiet=lambda r: r.path.startswith("/health"))


if __name__ == "__main__":
    main(sys.argv[1:])
