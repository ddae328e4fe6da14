"""Planted faults: each breaks one feature the suite claims, and names the tests that must notice.

A fault is a one-place text change in a scratch copy of the repository. `python -m
tests.mutations.run` applies each in turn and runs its tests; a fault is caught when they fail.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    path: str          # file in the repository
    find: str          # text that must occur exactly once
    replace: str
    tests: tuple[str, ...]  # pytest arguments that must fail with the fault in place


FAULTS: tuple[Fault, ...] = (
    Fault("restore skips the digest comparison", "stack/ops/backup.py",
          "                if h.hexdigest() != digest:", "                if False:",
          ("tests/unit/test_backup_verify.py",)),
    Fault("restore of a fresh folder needs an existing .env", "stack/ops/restore.py",
          "    if (root / \".env\").exists():\n        settings = existing_settings(root)",
          "    if True:\n        settings = existing_settings(root)",
          ("tests/e2e/test_operations.py", "-k", "plain_start or fresh_folder")),
    Fault("restore forgets the archive's database state", "stack/ops/restore.py",
          "    dbstate.record(existing_settings(root))\n", "",
          ("tests/e2e/test_operations.py", "-k", "plain_start or across_a_rotation")),
    Fault("containers are not restarted by the engine", "stack/render/files.py",
          'spec.setdefault("restart", "unless-stopped")', 'spec.setdefault("restart", "no")',
          ("tests/e2e/test_daemon_restart.py",)),
    Fault("log masking does nothing", "stack/config/redact.py",
          'text = text.replace(value, "***")', "text = text",
          ("tests/e2e/test_operations.py", "-k", "plain_start or mask")),
    Fault("rotating N8N_DB_PASSWORD leaves the role's old password", "stack/ops/rotate.py",
          r'''        return f"ALTER ROLE n8n WITH PASSWORD '{value}';\n"''', r'''        return "SELECT 1;\n"''',
          ("tests/e2e/test_operations.py", "-k", "plain_start or every_rotatable")),
    Fault("the test database accepts any password on the network", "tests/images/postgres/etc/pg_hba.conf",
          "host    all       all             0.0.0.0/0     scram-sha-256",
          "host    all       all             0.0.0.0/0     trust",
          ("tests/e2e/test_private_stack.py", "-k", "test_up_brings or rotating_the_database_password")),
    Fault("Ollama's healthcheck calls curl, which its image lacks", "compose/ollama.yml.j2",
          '{{ health(["CMD", "ollama", "list"]) }}',
          '{{ health(["CMD", "curl", "-fsS", "http://127.0.0.1:11434/"]) }}',
          ("tests/e2e/test_private_stack.py", "-k", "test_up_brings")),
    Fault("Ollama's models are not on its volume", "compose/ollama.yml.j2",
          "- ollama_data:/root/.ollama", "- ollama_data:/srv/not-the-models",
          ("tests/e2e/test_private_stack.py", "-k", "test_up_brings or data_survives")),
)
