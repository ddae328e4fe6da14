"""A planted fault: a service that never becomes ready makes start.py fail, naming it, in time."""
from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import PRIVATE_PORTS, image, make_stack


@pytest.fixture(scope="module")
def broken_stack(tmp_path_factory):
    stack = make_stack(tmp_path_factory, "fault", {**PRIVATE_PORTS, "OLLAMA_IMAGE": image("ollama-never-ready")})
    try:
        yield stack
    finally:
        stack.destroy()


def test_never_ready_service_is_named_within_the_deadline(broken_stack):
    started = time.monotonic()
    result = broken_stack.start("up", "--timeout", "60")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: not ready after 60s: ollama"), errors[0]
    assert "Traceback" not in result.stderr
    assert "last log lines of ollama" in result.stderr
    assert elapsed < 60 + 45, f"took {elapsed:.0f}s"
