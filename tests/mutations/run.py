"""Mutation check: does each planted fault (faults.py) make its tests fail?

    python -m tests.mutations.run [--only SUBSTRING] [--list]

Each fault is applied to a scratch copy of the repository (the working tree as it is, without
.venv, build/ or .git), and its tests run there under the shared e2e lock with this
interpreter. Prints one line per fault and "caught N of M"; exits 1 unless every fault is caught.
Not part of every CI run (it starts several stacks); run it after changing a claimed feature.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.mutations.faults import FAULTS, Fault

REPO = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".pytest_cache", ".ruff_cache",
                              "backups", ".env", ".localai-state.json")
LOCK = Path("/tmp/localai-e2e.lock")


def apply(fault: Fault, root: Path) -> None:
    target = root / fault.path
    text = target.read_text()
    if text.count(fault.find) != 1:
        raise SystemExit(f"mutation '{fault.name}' is stale: its text occurs {text.count(fault.find)} times "
                         f"in {fault.path}")
    target.write_text(text.replace(fault.find, fault.replace))


def run_fault(fault: Fault) -> tuple[bool, float, str]:
    with tempfile.TemporaryDirectory(prefix="localai-mutant-") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(REPO, root, ignore=SKIP)
        apply(fault, root)
        started = time.monotonic()
        with LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            env = {**os.environ, "LOCALAI_E2E_UP_TIMEOUT": "240"}
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                   *fault.tests], cwd=root, env=env, capture_output=True, text=True, timeout=3600)
        lines = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        return proc.returncode != 0, time.monotonic() - started, (lines[0] if lines else proc.stdout[-200:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the faults whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    args = parser.parse_args(argv)
    faults = [f for f in FAULTS if args.only in f.name]
    if args.list:
        for fault in faults:
            print(f"{fault.name}: {fault.path} -> {' '.join(fault.tests)}")
        return 0
    caught = 0
    for fault in faults:
        ok, seconds, detail = run_fault(fault)
        caught += ok
        print(f"{'caught' if ok else 'MISSED'}  {seconds:6.0f}s  {fault.name}"
              + (f"  ({detail.strip()})" if ok else ""), flush=True)
    print(f"caught {caught} of {len(faults)}")
    return 0 if caught == len(faults) else 1


if __name__ == "__main__":
    sys.exit(main())
