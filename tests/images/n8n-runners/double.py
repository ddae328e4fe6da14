"""Contract double of n8nio/runners: n8n's task-runner-launcher (github n8n-io/task-runner-launcher
@ 13a35db internal/config/config.go) with the runner types given as arguments.

- N8N_RUNNERS_AUTH_TOKEN is required (config.go:34, envconfig "required"); N8N_RUNNERS_TASK_BROKER_URI
  defaults to http://127.0.0.1:5679 and must be a URL (config.go:45, validateURL);
  N8N_RUNNERS_LAUNCHER_HEALTH_CHECK_PORT defaults to 5680 (config.go:48) and answers GET /healthz
  {"status":"ok"} (internal/http/healthcheck_server.go).
- Each runner type must be one the image's /etc/n8n-task-runners.json lists: javascript, python
  (github n8n-io/n8n docker/images/runners/n8n-task-runners.json).
- It waits for the broker's GET /healthz, then exchanges the auth token for a grant token at
  POST <broker>/runners/auth (n8n task-broker-server.js:210-218); a refused token is logged and
  retried. The double runs no code: it stops at the grant token.
"""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

from doublelib.common import background, env, is_http_url, log, refuse, reply, serve, setup, urlopen

RUNNER_TYPES = ("javascript", "python")


def connect(broker: str, token: str, runner: str) -> None:
    while True:
        try:
            with urlopen(broker + "/healthz", timeout=3):
                pass
            request = urllib.request.Request(broker + "/runners/auth", data=json.dumps({"token": token}).encode(),
                                             method="POST", headers={"Content-Type": "application/json"})
            with urlopen(request, timeout=5) as response:
                json.loads(response.read())["data"]["token"]
            log(f"[runner:{runner}] got a grant token from the task broker")
            return
        except urllib.error.HTTPError as exc:
            log(f"[runner:{runner}] failed to fetch grant token: HTTP {exc.code}")
        except (OSError, ValueError, KeyError):
            log(f"[runner:{runner}] waiting for the task broker at {broker}")
        time.sleep(2)


def main(argv: list[str]) -> None:
    setup("n8n-runners")
    token = env("N8N_RUNNERS_AUTH_TOKEN")
    if not token:
        refuse('failed to load config: BaseConfig: AuthToken: missing required value: N8N_RUNNERS_AUTH_TOKEN')
    broker = env("N8N_RUNNERS_TASK_BROKER_URI", "http://127.0.0.1:5679").rstrip("/")
    if not is_http_url(broker):
        refuse("failed to load config: N8N_RUNNERS_TASK_BROKER_URI must be a valid URL")
    port = env("N8N_RUNNERS_LAUNCHER_HEALTH_CHECK_PORT", "5680")
    if not port.isdigit() or not 0 < int(port) < 65536:
        refuse("failed to load config: N8N_RUNNERS_LAUNCHER_HEALTH_CHECK_PORT must be a valid port number")
    runners = argv or ["javascript"]
    for runner in runners:
        if runner not in RUNNER_TYPES:
            refuse(f"failed to load config: config file at /etc/n8n-task-runners.json does not contain requested "
                   f"runner type: {runner}")
        background(lambda r=runner: connect(broker, token, r), f"runner-{runner}")
    log(f"Starting launcher for runner types: {', '.join(runners)}")
    serve(lambda r: reply(200, {"status": "ok"}) if r.path == "/healthz" and r.method == "GET" else reply(404),
          int(port), "0.0.0.0", quiet=lambda r: r.path == "/healthz")


if __name__ == "__main__":
    main(sys.argv[1:])
