"""Create `.venv` with the pinned requirements on first use and re-run start.py inside it.

Standard library only: this module runs before any dependency is installed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV_DIR / ".requirements.sha256"
MIN_PYTHON = (3, 11)


def _venv_python() -> Path:
    return VENV_DIR / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _inside_our_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV_DIR.resolve()


def _venv_is_current() -> bool:
    return _venv_python().exists() and STAMP.exists() and STAMP.read_text().strip() == _requirements_digest()


def _install() -> None:
    """Build the virtualenv; on failure leave no stamp so the next run retries."""
    print(f"First run: creating {VENV_DIR.name}/ with the pinned requirements (once, about a minute)...",
          file=sys.stderr, flush=True)
    if not _venv_python().exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV_DIR)
    cmd = [str(_venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q",
           "-r", str(REQUIREMENTS)]
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        print(f"error: installing requirements into {VENV_DIR} failed (pip exit {result.returncode}); "
              "check your network or proxy and run start.py again", file=sys.stderr)
        raise SystemExit(1)
    STAMP.write_text(_requirements_digest() + "\n")
    print("Virtualenv ready.", file=sys.stderr, flush=True)


def ensure_venv() -> None:
    """Return when running inside an up-to-date .venv; otherwise set it up and re-exec."""
    if sys.version_info < MIN_PYTHON:
        print(f"error: Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ is required, this is "
              f"{sys.version_info.major}.{sys.version_info.minor}", file=sys.stderr)
        raise SystemExit(1)
    if os.environ.get("LOCALAI_NO_VENV") == "1":
        return
    if _inside_our_venv() and _venv_is_current():
        return
    if not _venv_is_current():
        _install()
    python = str(_venv_python())
    os.execv(python, [python, str(ROOT / "start.py"), *sys.argv[1:]])
