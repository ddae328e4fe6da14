"""The "where the time went" table at the end of a run: this run's image builds and each test
module's total, slowest first (tests/conftest.py reads what tests/images/build.py appends)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

SLOW = "import time\n\ndef test_one():\n    time.sleep(0.6)\n\ndef test_two():\n    time.sleep(0.4)\n"
FAST = "def test_fast():\n    pass\n"


def test_the_table_shows_this_runs_builds_and_modules_slowest_first(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tmp_path / "test_fast.py").write_text(FAST)
    (tmp_path / "test_slow.py").write_text(SLOW)
    now = time.time()
    times = tmp_path / "times.tsv"
    times.write_text(f"{now - 3600:.0f}\told-run\tbuilt\t999.0\n"         # before this run: left out
                     f"{now:.0f}\topen-webui\tbuilt\t412.5\n{now:.0f}\tollama\tbuilt\t20.0\n"
                     f"{now:.0f}\tsearxng\tcached\t0.1\n{now:.0f}\tn8n\tFAILED\t33.0\n")
    env = {**os.environ, "LOCALAI_BUILD_TIMES": str(times), "LOCALAI_START_TIMES": str(tmp_path / "none.tsv"),
           "LOCALAI_RUN_STARTED": f"{now - 60:.0f}", "CI": "",  # none of the outer run's start.py runs
           "LOCALAI_TIME_BUILDS": ""}  # tests/run.sh's unit pass sets it to 0 for itself
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout
    table = result.stdout.split("where the time went", 1)[1].splitlines()[1:]
    assert table[0].startswith("image builds: 3 built or failed (465.5s), 1 cached"), table
    assert [line.split()[:2] for line in table[1:4]] == [["open-webui", "built"], ["n8n", "FAILED"],
                                                           ["ollama", "built"]]
    assert "old-run" not in result.stdout and "searxng" not in result.stdout
    assert table[4].startswith("test modules: 2 ("), table
    modules = [line.split()[0] for line in table[5:7]]
    assert modules == ["test_slow.py", "test_fast.py"]
    assert float(table[5].split()[-1].rstrip("s")) >= 1.0  # both tests of the module summed


def test_the_unit_pass_beside_the_builds_leaves_them_to_the_e2e_pass(tmp_path: Path) -> None:
    # tests/run.sh runs the unit tests while the images are still being built (LOCALAI_TIME_BUILDS=0):
    # their table lists their modules only, not a half-done list of builds.
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tmp_path / "test_fast.py").write_text(FAST)
    now = time.time()
    times = tmp_path / "times.tsv"
    times.write_text(f"{now:.0f}\topen-webui\tbuilt\t412.5\n")
    env = {**os.environ, "LOCALAI_BUILD_TIMES": str(times), "LOCALAI_START_TIMES": str(tmp_path / "none.tsv"),
           "LOCALAI_RUN_STARTED": f"{now - 60:.0f}", "CI": "", "LOCALAI_TIME_BUILDS": "0"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout
    table = result.stdout.split("where the time went", 1)[1].splitlines()[1:]
    assert table[0].startswith("test modules: 1 ("), table
    assert "image builds" not in result.stdout and "open-webui" not in result.stdout


def test_the_table_shows_where_the_start_py_runs_went(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tmp_path / "test_fast.py").write_text(FAST)
    now = time.time()
    starts = tmp_path / "starts.tsv"
    starts.write_text(f"{now - 3600:.0f}\t500.0\tup\told::test\n"  # before this run: left out
                      f"{now:.0f}\t90.5\tup\ttests/e2e/test_a.py::test_up\n"
                      f"{now:.0f}\t30.0\tup\ttests/e2e/test_a.py::test_again\n"
                      f"{now:.0f}\t70.0\tsecrets rotate\ttests/e2e/test_b.py::test_rotate\n")
    env = {**os.environ, "LOCALAI_START_TIMES": str(starts), "LOCALAI_BUILD_TIMES": str(tmp_path / "none.tsv"),
           "LOCALAI_RUN_STARTED": f"{now - 60:.0f}", "CI": ""}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout
    table = result.stdout.split("start.py runs:", 1)[1].splitlines()
    assert table[0].startswith(" 3 (190.5s)"), table
    assert [line.split()[:-1] for line in table[1:3]] == [["up", "2"], ["secrets", "rotate", "1"]]
    assert table[3] == "slowest start.py runs:"
    assert table[4].split()[:2] == ["tests/e2e/test_a.py::test_up", "up"]


def test_start_command_leaves_out_options_and_arguments() -> None:
    from tests.conftest import start_command
    assert start_command(()) == "up"
    assert start_command(("up", "--profile", "cpu", "--timeout", "600")) == "up"
    assert start_command(("--profile", "none", "images", "load", "/tmp/site.tar")) == "images load"
    assert start_command(("secrets", "rotate", "JWT_SECRET", "--yes")) == "secrets rotate"
    assert start_command(("restore", "backup.tar", "--yes")) == "restore"
    assert start_command(("-e", "public", "render")) == "render"
