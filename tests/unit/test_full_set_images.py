"""The full set's fragments against what the real images hold and do at start.

A healthcheck runs inside the service's own image: it may only call tools that image has. The
tools below come from each real image's Dockerfile at the pinned version (the test doubles in
tests/images/supabase-{analytics,vector,functions,pooler}/ carry exactly these, so e2e agrees).
"""
from __future__ import annotations

import re

import yaml

from tests.conftest import append_env, run_start

# Programs a probe may call, per compose service, and where that comes from.
IMAGE_TOOLS = {
    # Logflare/logflare Dockerfile @ v1.42.0:50-54: debian trixie-slim + curl (no wget, no node)
    "analytics": {"curl", "sh", "bash", "timeout"},
    # vectordotdev/vector distribution/docker/alpine/Dockerfile @ v0.53.0:15-24: alpine 3.23, busybox
    # applets only (wget is busybox's; no curl, no bash)
    "vector": {"wget", "sh", "timeout", "vector"},
    # supabase/edge-runtime Dockerfile @ v1.74.0:32-43: debian bookworm-slim, no curl or wget
    "functions": {"sh", "bash", "timeout", "edge-runtime"},
    # supabase/supavisor Dockerfile @ v2.9.10:65-68: debian bullseye-slim + curl, psql (postgresql-contrib)
    "supavisor": {"curl", "sh", "bash", "timeout", "psql"},
}
# supabase/supavisor Dockerfile @ v2.9.10:86-88: ENV RLIMIT_NOFILE 100000, and limits.sh:2-7 (`set -euo
# pipefail`) runs `ulimit -n "$RLIMIT_NOFILE"` before the command unless the variable is empty.
POOLER_NOFILE = 100000


def _services(project):
    append_env(project, {"SUPABASE_SERVICES": "full"})
    result = run_start(project, "render")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((project / "build" / "docker-compose.yml").read_text())["services"]


def _programs(test: list[str] | str) -> set[str]:
    """The programs a healthcheck runs: argv[0] for CMD, each command word of a CMD-SHELL line."""
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if test[0] == "CMD":
        return {test[1].rsplit("/", 1)[-1]}
    words: set[str] = {"sh"}
    for part in re.split(r"[;&|()]+|\$\(|`", " ".join(test[1:])):
        tokens = part.replace("'", " ").replace('"', " ").split()
        while tokens and tokens[0] in ("timeout", "exec", "!") or (tokens and tokens[0].isdigit()):
            words.add(tokens.pop(0))
        if tokens:
            words.add(tokens[0].rsplit("/", 1)[-1])
    words.discard("-c")
    return {w for w in words if not w.startswith("<") and not w.isdigit()}


def test_full_set_probes_call_only_tools_their_real_image_has(project):
    services = _services(project)
    for name, tools in IMAGE_TOOLS.items():
        test = services[name]["healthcheck"]["test"]
        missing = _programs(test) - tools
        assert not missing, f"{name}'s healthcheck calls {sorted(missing)}, which its image lacks: {test}"


def test_probe_parser_sees_the_tools_of_a_shell_probe():
    assert _programs(["CMD-SHELL", "timeout 1 bash -c '</dev/tcp/127.0.0.1/9000'"]) == {"sh", "timeout", "bash"}
    assert _programs(["CMD", "curl", "-f", "http://x"]) == {"curl"}
    assert _programs(["CMD-SHELL", "curl -f http://x || wget -q http://x"]) >= {"curl", "wget"}


def test_pooler_entrypoint_does_not_raise_the_open_files_limit(project):
    """limits.sh skips the `ulimit -n` when RLIMIT_NOFILE is empty; otherwise the image's 100000 fails
    (and the pooler crash-loops) on any engine whose hard limit is lower, e.g. the test machine's 20000,
    and compose `ulimits:` cannot go above the daemon's own limit either."""
    service = _services(project)["supavisor"]
    nofile = service.get("environment", {}).get("RLIMIT_NOFILE", str(POOLER_NOFILE))
    assert nofile == "", f"limits.sh would run `ulimit -n {nofile}`, which fails above the engine's hard limit"
