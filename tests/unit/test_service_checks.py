"""The checks across services (own ports, own and required hostnames) come from the records and
still stop every command that used to meet them in settings: one line, exit 2, nothing written."""
from __future__ import annotations

import pytest

from tests.conftest import run_start

CASES = [
    ("WEBUI_PORT=5678\n", "N8N_PORT: port 5678 is already used by WEBUI_PORT"),
    ("ENVIRONMENT=public\n", "public mode needs WEBUI_HOSTNAME, N8N_HOSTNAME, SUPABASE_HOSTNAME, LETSENCRYPT_EMAIL"),
]


@pytest.mark.parametrize("command", ["render", "doctor", "up"])
@pytest.mark.parametrize(("env", "line"), CASES)
def test_cross_service_checks_stop_the_command(project, command, env, line):
    (project / ".env").write_text(env)
    result = run_start(project, command)
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.returncode == 2 and len(lines) == 1 and line in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert (project / ".env").read_text() == env and not (project / "build").exists()
