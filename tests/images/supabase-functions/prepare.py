#!/usr/bin/env python3
"""Make the Deno binary available to the functions double's build (tests only).

No registry is reachable from containers, so build.py runs this first: it downloads PyPI's `deno`
wheel (a redistribution of the official Deno binary) with pip, and imports the binary alone as the
image localai-test/deno:<version> (cached: nothing happens when the tag exists). It prints the build
argument the Dockerfile uses. edge-runtime v1.74.0 embeds Deno 2.1.4 (deno/Cargo.toml:3); PyPI's
oldest 2.x wheel is 2.4.5, the closest available.
"""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

VERSION = "2.4.5"
TAG = f"localai-test/deno:{VERSION}"


def main() -> int:
    if subprocess.run(["docker", "image", "inspect", TAG], capture_output=True).returncode == 0:
        print(f"DENO_IMAGE={TAG}")
        return 0
    with tempfile.TemporaryDirectory(prefix="deno-wheel-") as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--platform", "manylinux_2_17_x86_64", f"deno=={VERSION}", "-d", tmp]
        result = subprocess.run(pip, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("deno-*.whl"))
        if result.returncode != 0 or not wheels:
            print(f"prepare.py: pip could not download deno=={VERSION}: {result.stderr.strip()[-400:]}",
                  file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheels[0]) as wheel:
            binary = wheel.read(f"deno-{VERSION}.data/scripts/deno")
        layer = io.BytesIO()
        with tarfile.open(fileobj=layer, mode="w") as tar:
            info = tarfile.TarInfo("deno")
            info.size, info.mode = len(binary), 0o755
            tar.addfile(info, io.BytesIO(binary))
        imported = subprocess.run(["docker", "import", "-", TAG], input=layer.getvalue(), capture_output=True)
        if imported.returncode != 0:
            print(f"prepare.py: docker import failed: {imported.stderr.decode().strip()}", file=sys.stderr)
            return 1
    print(f"DENO_IMAGE={TAG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
