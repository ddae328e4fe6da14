#!/usr/bin/env python3
"""Build the local test images: no registry is reachable, so everything starts from debootstrap.

1. base: `debootstrap --variant=minbase` of Debian bookworm with base/packages.txt, imported as
   localai-test/base:<hash of packages.txt>.
2. every tests/images/<name>/Dockerfile: `docker build --build-arg BASE=...` with tests/images/ as
   context, tagged localai-test/<name>:dev and labelled with a hash of its inputs.
Both steps are cached: an image whose tag (base) or label (others) matches is not rebuilt.

    python3 tests/images/build.py [--only NAME[,NAME]] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = HERE / "base" / "packages.txt"
SHARED = HERE / "doublelib"
LABEL = "localai.test.hash"
SUITE = "bookworm"


def image_name(name: str) -> str:
    return f"localai-test/{name}:dev"


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, text=True, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]


def _die(message: str, detail: str = "") -> None:
    print(f"error: {message}", file=sys.stderr)
    if detail:
        print("\n".join(detail.strip().splitlines()[-30:]), file=sys.stderr)
    raise SystemExit(1)


def mirror() -> str:
    """The Debian mirror this machine's apt uses (never hard-coded in the repo)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        uri = ""
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                uri = line.split()[1]
            if line.startswith("Suites:") and SUITE in line.split()[1:] and uri:
                return uri
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    _die("cannot find the Debian mirror in /etc/apt/sources.list(.d)")
    return ""


def base_tag() -> str:
    return f"localai-test/base:{hashlib.sha256(PACKAGES.read_bytes()).hexdigest()[:12]}"


def image_exists(tag: str) -> bool:
    return _run(["docker", "image", "inspect", tag]).returncode == 0


def build_base(force: bool) -> str:
    tag = base_tag()
    if image_exists(tag) and not force:
        print(f"base        cached  {tag}")
        return tag
    started = time.monotonic()
    packages = ",".join(p.strip() for p in PACKAGES.read_text().splitlines() if p.strip())
    with tempfile.TemporaryDirectory(prefix="localai-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        result = _run(["debootstrap", "--variant=minbase", f"--include={packages}", SUITE, str(rootfs), mirror()])
        if result.returncode != 0:
            _die("debootstrap failed", result.stdout + result.stderr)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / leftover, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True,
                                  check=False)
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            _die("docker import failed", imported.stderr)
    print(f"base        built   {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _inputs_hash(name: str, base: str) -> str:
    h = hashlib.sha256(base.encode())
    for folder in (HERE / name, SHARED):
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(path.relative_to(HERE).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _label(tag: str) -> str:
    result = _run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag])
    if result.returncode != 0:
        return ""
    return (json.loads(result.stdout or "null") or {}).get(LABEL, "")


def build_image(name: str, base: str, force: bool) -> None:
    tag = image_name(name)
    digest = _inputs_hash(name, base)
    if not force and _label(tag) == digest:
        print(f"{name:<20} cached")
        return
    started = time.monotonic()
    env = {**os.environ}
    if _run(["docker", "buildx", "version"]).returncode != 0:
        env["DOCKER_BUILDKIT"] = "0"
    result = _run(["docker", "build", "-q", "--build-arg", f"BASE={base}", "--label", f"{LABEL}={digest}", "-t", tag,
                   "-f", str(HERE / name / "Dockerfile"), str(HERE)], env=env)
    if result.returncode != 0:
        _die(f"building {tag} failed", result.stdout + result.stderr)
    print(f"{name:<20} built in {time.monotonic() - started:.0f}s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma separated image names")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    names = sorted(p.parent.name for p in HERE.glob("*/Dockerfile"))
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - set(names)
        if unknown:
            _die(f"unknown image(s): {', '.join(sorted(unknown))}")
        names = [n for n in names if n in wanted]
    base = build_base(args.force)
    for name in names:
        build_image(name, base, args.force)


if __name__ == "__main__":
    main()
