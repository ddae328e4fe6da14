#!/usr/bin/env python3
"""Stage what the real Open WebUI's build needs from this host (tests only; build.py runs this first).

A build container reaches PyPI only through this machine's TLS-intercepting proxy, and plain `torch`
from PyPI is a multi-GB CUDA build. So this stages, into staged/ (gitignored, counted in the image's
input hash so a change rebuilds it):
- the proxy's CA bundle (the host's; never committed), for uv inside the build;
- the local CPU build of torch (open-webui 0.12.4 pins no torch itself; sentence-transformers and
  accelerate, which it pins, accept any torch >= 2, METADATA Requires-Dist);
- PyPI's `uv` wheel, the installer the official image uses (`pip3 install uv` then
  `uv pip install --system -r requirements.txt`, Dockerfile of open-webui/open-webui).
Each failure names its step and exits 1, so the build fails with the step named.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGED = HERE / "staged"
UV_VERSION = "0.13.9"
CA_BUNDLE = Path(os.environ.get("LOCALAI_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
WHEELS = Path(os.environ.get("LOCALAI_WHEELS", "/opt/wheels"))
TORCH_GLOB = "torch-*+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


def fail(step: str, detail: str) -> int:
    """One line naming the step that could not be done."""
    print(f"prepare.py: step '{step}' failed: {detail}", file=sys.stderr)
    return 1


def same(source: Path, target: Path) -> bool:
    """Cheap identity check for big files (size and mtime survive copy2)."""
    if not target.is_file():
        return False
    a, b = source.stat(), target.stat()
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def copy(source: Path, target: Path) -> None:
    """Copy unless an identical copy is staged, then drop other staged files of the same kind."""
    if not same(source, target):
        shutil.copy2(source, target)


def main() -> int:
    STAGED.mkdir(exist_ok=True)
    if not CA_BUNDLE.is_file():
        return fail("stage the proxy CA", f"{CA_BUNDLE} not found (set LOCALAI_CA_BUNDLE)")
    copy(CA_BUNDLE, STAGED / "ca-certificates.crt")
    torches = sorted(WHEELS.glob(TORCH_GLOB))
    if not torches:
        return fail("stage the CPU torch wheel", f"no {TORCH_GLOB} in {WHEELS} (set LOCALAI_WHEELS)")
    for old in STAGED.glob("torch-*.whl"):
        if old.name != torches[-1].name:
            old.unlink()
    copy(torches[-1], STAGED / torches[-1].name)
    uv_name = f"uv-{UV_VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    if not (STAGED / uv_name).is_file():
        with tempfile.TemporaryDirectory(prefix="uv-wheel-") as tmp:
            pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--platform", "manylinux_2_17_x86_64", f"uv=={UV_VERSION}", "-d", tmp]
            result = subprocess.run(pip, capture_output=True, text=True)
            wheels = list(Path(tmp).glob("uv-*.whl"))
            if result.returncode != 0 or not wheels:
                return fail(f"download uv=={UV_VERSION} from PyPI", result.stderr.strip()[-400:])
            for old in STAGED.glob("uv-*.whl"):
                old.unlink()
            shutil.copyfile(wheels[0], STAGED / uv_name)
    print(f"TORCH_WHEEL={torches[-1].name}")
    print(f"UV_WHEEL={uv_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
