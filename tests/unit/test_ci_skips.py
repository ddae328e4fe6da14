"""Under CI=true an unexplained skip is a failure; an allow-listed one stays a skip."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, allowed_skips

SAMPLE = '''
import pytest

def test_skips():
    pytest.skip("tool missing")
'''


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    conftest = (REPO / "tests" / "conftest.py").read_text()
    (tmp_path / "conftest.py").write_text(conftest.replace('REPO / "tests" / "allowed_skips.txt"',
                                                           'Path(__file__).parent / "allowed.txt"'))
    env = {**os.environ, "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_under_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "skipped under CI=true and not in tests/allowed_skips.txt" in result.stdout
    assert "tool missing" in result.stdout


def test_a_skip_is_a_skip_outside_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, "")
    assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout


def test_an_allow_listed_skip_stays_a_skip_under_ci(tmp_path: Path) -> None:
    (tmp_path / "allowed.txt").write_text("test_sample.py::test_skips  # the sample's reason\n")
    result = _run(tmp_path, "true")
    assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout


def test_every_allowed_skip_names_a_real_test_and_a_reason() -> None:
    for node, reason in allowed_skips().items():
        path, _, name = node.partition("::")
        assert (REPO / path).is_file() and f"def {name}(" in (REPO / path).read_text(), node
        assert reason
