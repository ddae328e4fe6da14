"""restore on the Swarm target is refused in one line before anything changes: Swarm deploys
every service at once, so the apps would migrate an empty database while the dump loads."""
from __future__ import annotations

import hashlib

from tests.conftest import append_env, copy_product, run_start
from tests.unit.test_backup_verify import _archive


def _tree(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".venv" not in p.parts}


def test_restore_on_swarm_is_refused_and_changes_nothing(tmp_path):
    project = copy_product(tmp_path / "stack")
    append_env(project, {"TARGET": "swarm"})
    rendered = run_start(project, "render")
    assert rendered.returncode == 0, rendered.stderr
    members = {"env": (project / ".env").read_bytes(), "postgres.sql": b"SELECT 1;\n"}
    archive = _archive(tmp_path / "backup.tar", members)
    before = _tree(project)
    result = run_start(project, "restore", str(archive), "--yes")
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Swarm" in errors[0] and "Traceback" not in result.stderr
    assert "TARGET=compose" in result.stderr
    assert _tree(project) == before
