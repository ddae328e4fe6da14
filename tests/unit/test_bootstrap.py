"""A fresh clone with nothing but Python: start.py builds its own .venv once, then starts at once."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import copy_product


def test_first_run_creates_the_venv_and_later_runs_reuse_it(tmp_path):
    project = copy_product(tmp_path / "fresh")
    env = {k: v for k, v in os.environ.items() if k not in ("LOCALAI_NO_VENV", "VIRTUAL_ENV", "PYTHONPATH")}
    first = subprocess.run([sys.executable, "start.py", "render"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "First run: creating .venv/" in first.stderr
    assert (project / ".venv" / "bin" / "python").exists()
    assert (project / "build" / "docker-compose.yml").exists()
    started = time.monotonic()
    second = subprocess.run([sys.executable, "start.py", "render"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "First run" not in second.stderr
    assert time.monotonic() - started < 20
