"""Startup benchmark: cold `up` to all-ready, a warm re-run with nothing changed, and how many
containers that re-run recreates. Each run is split into control-plane time (settings, secrets,
render), time spent waiting on Docker (compose up plus every readiness probe) and the work after
ready (model pulls, Supabase key check, n8n import).

Runs against the locally built test images (tests/images, `python tests/images/build.py`) in a
throw-away project, then removes it with its volumes. Prints one JSON object.

    .venv/bin/python bench/startup.py
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stack.cli.ui import ConsoleUi  # noqa: E402
from stack.ops.commands import down  # noqa: E402
from stack.ops.up import up  # noqa: E402
from tests.conftest import append_env, copy_product  # noqa: E402
from tests.e2e.conftest import IMAGES, PRIVATE_PORTS, containers, image  # noqa: E402


def run_up(root: Path) -> dict[str, float]:
    report = up(root, {"PROFILE": "cpu"}, ConsoleUi(), timeout=900, quiet=True)
    return {
        "total_s": round(report.seconds_total, 2),
        "control_plane_s": round(report.seconds_control_plane, 2),
        "compose_up_s": round(report.seconds_compose_up, 2),
        "waiting_on_docker_s": round(report.seconds_waiting, 2),
        "after_ready_s": round(report.seconds_total - report.seconds_control_plane - report.seconds_waiting, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="localai-bench-") as tmp:
        root = copy_product(Path(tmp) / "stack")
        project = f"lasbench{int(time.time()) % 100000}"
        append_env(root, {key: image(name) for key, name in IMAGES.items()} | PRIVATE_PORTS
                   | {"PROJECT_NAME": project})
        try:
            cold = run_up(root)
            ids_before = {s: c["Id"] for s, c in containers(project).items()}
            warm = run_up(root)
            ids_after = {s: c["Id"] for s, c in containers(project).items()}
            recreated = sorted(s for s in ids_after if ids_before.get(s) != ids_after[s])
        finally:
            down(root, ConsoleUi(), volumes=True, quiet=True)
    print(json.dumps({
        "services": len(ids_after),
        "cold_up": cold,
        "warm_rerun": warm,
        "containers_recreated_on_rerun": len(recreated),
        "recreated": recreated,
    }, indent=2))


if __name__ == "__main__":
    main()
