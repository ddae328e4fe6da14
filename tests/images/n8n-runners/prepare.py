#!/usr/bin/env python3
"""Install n8n's real JavaScript task runner (@n8n/task-runner) from npm on the host, imported as
localai-test/n8n-runners-app:<hash of package.json + package-lock.json>, the way n8n/prepare.py
installs n8n (same code). @n8n/task-runner is 2.41.1: n8n@2.41.3 pins 2.41.2, which the registry
this machine reaches does not have (404), so n8n/package.json overrides it to 2.41.1 too: the
runner and n8n's task broker run the same version. moment 2.30.1 as the official runners image adds
(n8n-io/n8n docker/images/runners/Dockerfile, stage javascript-runner-builder)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("n8n_prepare", HERE.parent / "n8n" / "prepare.py")
assert spec and spec.loader
shared = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shared)

if __name__ == "__main__":
    raise SystemExit(shared.main(HERE, "localai-test/n8n-runners-app", "RUNNERS_APP_IMAGE"))
