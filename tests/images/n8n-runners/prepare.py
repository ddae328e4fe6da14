#!/usr/bin/env python3
"""Install n8n's real JavaScript task runner (@n8n/task-runner) from npm on the host, imported as
localai-test/n8n-runners-app:<hash of package.json + package-lock.json>, with n8n/prepare.py's code
(npm ci --ignore-scripts --omit=dev, source maps and type declarations deleted, tar | docker import,
cached by tag). @n8n/task-runner is 2.41.1:
n8n@2.41.3 pins 2.41.2, which the registry this machine reaches does not have (404), so
n8n/package.json overrides it to 2.41.1 too: the runner and n8n's task broker run the same version.
moment 2.30.1 as the official runners image adds (n8n-io/n8n docker/images/runners/Dockerfile,
stage javascript-runner-builder). Prints RUNNERS_APP_IMAGE=<tag>."""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("n8n_prepare", HERE.parent / "n8n" / "prepare.py")
assert spec and spec.loader
shared = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shared)
shared.HERE, shared.REPO = HERE, "localai-test/n8n-runners-app"  # read by its functions at call time


def main() -> int:
    target = shared.tag()
    if subprocess.run(["docker", "image", "inspect", target], capture_output=True).returncode != 0:
        code = shared.install(target)
        if code:
            return code
    shared.drop_older(target)
    print(f"RUNNERS_APP_IMAGE={target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
