"""Contract double of supabase/edge-runtime's command line (`edge-runtime start ...`): the options of
cli/src/flags.rs @ v1.74.0 (the newest tag in the mirror; the pin is v1.76.2), checked the way clap
checks them, then the main service runs in a real Deno (bootstrap.js gives it EdgeRuntime)."""
from __future__ import annotations

import os
import re
import sys

DENO = "/usr/local/bin/deno"
BOOTSTRAP = "/opt/double/supabase-functions/bootstrap.js"
# flags.rs:90-340: `start` options with a value, and how clap parses each value (the optional-value
# ones, --inspect*, --tcp-nodelay, --tls, --enable-otel, are treated as taking one)
U16, U64, U8_99, PCT95, ANY = "u16", "u64", "u8<=99", "u64<=95", "any"
VALUED = {"--ip": ANY, "-i": ANY, "--port": U16, "-p": U16, "--key": ANY, "--cert": ANY, "--main-service": ANY,
          "--event-worker": ANY, "--main-entrypoint": ANY, "--events-entrypoint": ANY, "--policy": ANY,
          "--graceful-exit-timeout": U64, "--event-worker-exit-timeout": U64,
          "--experimental-graceful-exit-keepalive-deadline-ratio": PCT95, "--max-parallelism": "u32 1..9999",
          "--request-wait-timeout": U64, "--main-worker-request-idle-timeout": U64,
          "--user-worker-request-idle-timeout": U64, "--request-read-timeout": U64,
          "--rate-limit-table-cleanup-interval": U64, "--inspect": ANY, "--inspect-brk": ANY,
          "--inspect-wait": ANY, "--static": ANY, "--tcp-nodelay": ANY, "--request-buffer-size": U64,
          "--dispatch-beforeunload-wall-clock-ratio": U8_99, "--dispatch-beforeunload-cpu-ratio": U8_99,
          "--dispatch-beforeunload-memory-ratio": U8_99, "--enable-otel": ANY, "--otel-console": ANY, "--tls": U16}
FLAGS = {"--disable-module-cache", "--inspect-main"}


def usage_error(message: str) -> None:
    print(f"error: {message}\n\nFor more information, try '--help'.", file=sys.stderr, flush=True)
    raise SystemExit(2)   # clap's usage exit status


def check(name: str, value: str, kind: str) -> None:
    if kind == ANY:
        if name == "--policy" and value not in ("per_worker", "per_request", "oneshot"):   # flags.rs:150
            usage_error(f"invalid value '{value}' for '--policy <POLICY>'")
        return
    limit = {U16: 65535, U64: 2**64 - 2, U8_99: 99, PCT95: 95}.get(kind)
    if not re.fullmatch(r"\d+", value) or (limit is not None and int(value) > limit):
        usage_error(f"invalid value '{value}' for '{name}': invalid digit found in string")
    if kind.startswith("u32") and not 1 <= int(value) < 9999:
        usage_error(f"invalid value '{value}' for '{name}': {value} is not in 1..9999")


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print("Usage: edge-runtime [OPTIONS] [COMMAND]\n\nCommands:\n  start  Start the server")
        raise SystemExit(0 if argv else 2)
    if argv[0] in ("-V", "--version"):
        print("edge-runtime 1.76.2 (contract double)")
        return
    if argv[0] != "start":
        usage_error(f"unrecognized subcommand '{argv[0]}'")
    values = {"--ip": os.environ.get("EDGE_RUNTIME_IP", "0.0.0.0"),
              "--port": os.environ.get("EDGE_RUNTIME_PORT", "9000"),   # flags.rs:99-104 (env EDGE_RUNTIME_PORT)
              "--main-service": "examples/main"}                     # flags.rs:126-129
    args = iter(argv[1:])
    for arg in args:
        name, eq, inline = arg.partition("=")
        if name in FLAGS:
            continue
        if name not in VALUED:
            usage_error(f"unexpected argument '{arg}' found")
        value = inline if eq else next(args, None)
        if value is None:
            usage_error(f"a value is required for '{name}' but none was supplied")
        check(name, value, VALUED[name])
        values[{"-i": "--ip", "-p": "--port"}.get(name, name)] = value
    check("--port", values["--port"], U16)
    main_service = values["--main-service"]
    if not os.path.isdir(main_service) and not os.path.isfile(main_service):
        print(f"main worker boot error: could not find the main service at {main_service}", file=sys.stderr)
        raise SystemExit(1)
    os.environ.update(EDGE_DOUBLE_MAIN_SERVICE=os.path.abspath(main_service), EDGE_DOUBLE_IP=values["--ip"],
                      EDGE_DOUBLE_PORT=values["--port"])
    print(f"[edge-runtime-double] starting main service {main_service} on {values['--ip']}:{values['--port']}",
          flush=True)
    os.execv(DENO, [DENO, "run", "--allow-all", "--no-prompt", "--quiet", BOOTSTRAP])


if __name__ == "__main__":
    main(sys.argv[1:])
