"""Shared fixtures: a fresh copy of the product in a temp dir, and a way to run start.py in it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("start.py", "stack", "compose", "templates", "Caddyfile.j2", ".env.example", "requirements.txt")
PUBLIC_ENV = {
    "WEBUI_HOSTNAME": "chat.example.com",
    "N8N_HOSTNAME": "n8n.example.com",
    "SUPABASE_HOSTNAME": "supabase.example.com",
    "LETSENCRYPT_EMAIL": "admin@example.com",
}


def copy_product(dest: Path) -> Path:
    """A clean checkout of the product (what a user clones), without .env or build/."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PRODUCT:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def run_start(project: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python start.py ARGS` in `project` with this interpreter (its venv has the requirements)."""
    full_env = {**os.environ, "LOCALAI_NO_VENV": "1", **(env or {})}
    return subprocess.run([sys.executable, "start.py", *args], cwd=project, env=full_env, text=True,
                          capture_output=True, timeout=timeout, input=input_text)


def read_env_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v or "" for k, v in dotenv_values(path).items()}


def append_env(project: Path, values: dict[str, str]) -> None:
    """Set keys in the project's .env (creating it from the example first if needed)."""
    env = project / ".env"
    if not env.exists():
        shutil.copy2(project / ".env.example", env)
    text = env.read_text()
    lines = [line for line in text.splitlines() if line.split("=", 1)[0] not in values]
    lines += [f"{k}={v}" for k, v in values.items()]
    env.write_text("\n".join(lines) + "\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_product(tmp_path / "stack")


# --- no silent skips in CI ----------------------------------------------------------------------
# With CI=true a skipped test fails, unless tests/allowed_skips.txt names it with a reason: a
# fresh machine must run everything, so a missing tool shows up as a failure, not a green run.
ALLOWED_SKIPS_FILE = REPO / "tests" / "allowed_skips.txt"


def allowed_skips() -> dict[str, str]:
    """node id -> reason, from tests/allowed_skips.txt (`<node id>  # <reason>` per line)."""
    allowed: dict[str, str] = {}
    if ALLOWED_SKIPS_FILE.exists():
        for line in ALLOWED_SKIPS_FILE.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                node, _, reason = line.partition("#")
                if not reason.strip():
                    raise pytest.UsageError(f"{ALLOWED_SKIPS_FILE.name}: {node.strip()} has no reason")
                allowed[node.strip()] = reason.strip()
    return allowed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() != "true" or not report.skipped:
        return
    if hasattr(report, "wasxfail") or item.nodeid in allowed_skips():
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"skipped under CI=true and not in tests/allowed_skips.txt: {reason}")
