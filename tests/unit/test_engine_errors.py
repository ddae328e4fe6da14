"""The runner turns failures into typed errors that keep argv, exit code and stderr (as
python-on-whales' DockerException does), so no caller needs to read a message to act on one."""
from __future__ import annotations

import sys

import pytest

from stack.engines import runner
from stack.engines.errors import CommandError, CommandFailed, CommandNotFound, CommandTimedOut, NetworkInUse
from stack.errors import StackError


def test_a_failing_command_raises_command_failed_with_argv_code_and_stderr():
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('first\\nlast words\\n'); sys.exit(3)"]
    with pytest.raises(CommandFailed) as info:
        runner.run(argv)
    err = info.value
    assert isinstance(err, StackError) and type(err) is CommandFailed
    assert err.argv == argv and err.command == argv
    assert err.returncode == 3
    assert err.stderr == "first\nlast words"
    assert str(err).endswith("failed with exit code 3: last words")


def test_a_missing_program_raises_command_not_found():
    with pytest.raises(CommandNotFound) as info:
        runner.run(["localai-no-such-program-here", "--version"])
    assert info.value.argv == ["localai-no-such-program-here", "--version"]
    assert info.value.returncode == 127


def test_a_command_past_its_timeout_raises_command_timed_out():
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(CommandTimedOut) as info:
        runner.run(argv, timeout=0.5)
    assert info.value.argv == argv and info.value.returncode == 124
    assert "did not finish within" in str(info.value)  # the user-facing wording is unchanged


def test_no_check_returns_the_result_instead_of_raising():
    result = runner.run([sys.executable, "-c", "import sys; sys.exit(5)"], check=False)
    assert result.returncode == 5


def test_secrets_stay_out_of_the_kept_argv_and_stderr():
    from stack.config import redact

    secret = "s3cretValueForTheRunnerTest"
    redact.register(secret)
    argv = [sys.executable, "-c", f"import sys; sys.stderr.write('{secret}'); sys.exit(1)", secret]
    with pytest.raises(CommandError) as info:
        runner.run(argv)
    assert secret not in " ".join(info.value.argv) and secret not in info.value.stderr
    assert secret not in str(info.value)


def test_only_docker_commands_are_classified_by_dockers_wording():
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('network x id y has active endpoints'); sys.exit(1)"]
    with pytest.raises(CommandFailed) as info:
        runner.run(argv)
    assert not isinstance(info.value, NetworkInUse)
