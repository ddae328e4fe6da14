"""Contract double of darthsim/imgproxy: `imgproxy` serves /health on IMGPROXY_BIND and
`imgproxy health` exits 0 only when it answers; configuration is checked like imgproxy's."""
from __future__ import annotations

import sys
from pathlib import Path

from doublelib.common import env, go_bool, http_status, listen_address, log, refuse, reply, serve, setup

# config/config.go @ v3.31.4: IMGPROXY_AUTO_WEBP (:537) replaces the deprecated _ENABLE_WEBP_DETECTION (:528)
BOOLEANS = ("IMGPROXY_USE_ETAG", "IMGPROXY_ENABLE_WEBP_DETECTION", "IMGPROXY_ENABLE_AVIF_DETECTION",
            "IMGPROXY_AUTO_WEBP")


def bind() -> tuple[str, int]:
    try:
        host, port = listen_address(env("IMGPROXY_BIND", ":8080"), 8080)
    except ValueError:
        refuse(f"Invalid IMGPROXY_BIND: {env('IMGPROXY_BIND')!r}")
    return host, port


def check_config() -> None:
    for name in BOOLEANS:
        if env(name) and go_bool(env(name)) is None:
            refuse(f"Invalid {name}: {env(name)!r} is not a boolean")
    root = env("IMGPROXY_LOCAL_FILESYSTEM_ROOT")
    if root:
        if not Path(root).is_dir():
            refuse(f"Cannot use local directory: {root} is not a directory")
        if root == "/":
            log("Exposing root via IMGPROXY_LOCAL_FILESYSTEM_ROOT is unsafe")


def main(argv: list[str]) -> None:
    setup("imgproxy")
    host, port = bind()
    if argv[:1] == ["health"]:
        target = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        status = http_status(f"http://{target}:{port}/health")
        if status != 200:
            print(f"imgproxy is not healthy (/health answered {status or 'nothing'})", file=sys.stderr)
            raise SystemExit(1)
        return
    if argv[:1] in (["version"], ["--version"]):
        print("3.30.1-double")
        return
    check_config()

    def handle(request):
        if request.path == "/health":
            return reply(200, "imgproxy is running")
        return reply(404, "Invalid URL (the imgproxy contract double does not process images)")

    serve(handle, port, host, quiet=lambda r: r.path == "/health")


if __name__ == "__main__":
    main(sys.argv[1:])
