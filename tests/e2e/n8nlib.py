"""Looking into the real n8n of an e2e stack: its database as its own role, and its own CLI."""
from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import read_env_file

STARTER = "localaiStarterAgent"
# n8n's own CLI, decrypting with the key n8n holds (N8N_ENCRYPTION_KEY); the database password
# comes on stdin, as stack/n8n_setup.py sends it (a rotation may have changed it since the start).
EXPORT_SCRIPT = ("IFS= read -r DB_POSTGRESDB_PASSWORD; export DB_POSTGRESDB_PASSWORD; umask 077; f=$(mktemp -u); "
                 "n8n export:credentials --all --decrypted --output=\"$f\" >/dev/null && cat \"$f\"; rc=$?; "
                 "rm -f \"$f\"; exit $rc")


def env(stack) -> dict[str, str]:
    return read_env_file(stack.root / ".env")


def sql(stack, query: str) -> str:
    """As n8n's own role, on its own database (the password travels in the environment)."""
    cid = stack.containers()["db"]["Id"]
    result = subprocess.run(["docker", "exec", "-e", "PGPASSWORD", cid, "psql", "-h", "127.0.0.1", "-U", "n8n",
                             "-d", "n8n", "-v", "ON_ERROR_STOP=1", "-tAc", query],
                            env={**os.environ, "PGPASSWORD": env(stack)["N8N_DB_PASSWORD"]},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def starter_version(stack) -> str:
    """The starter workflow's version id and creation time: an import gives a new version."""
    return sql(stack, f"SELECT \"versionId\" || ' ' || \"createdAt\" FROM workflow_entity WHERE id = '{STARTER}'")


def history_count(stack) -> int:
    """Saved versions of the starter workflow (n8n adds one per import)."""
    return int(sql(stack, f"SELECT count(*) FROM workflow_history WHERE \"workflowId\" = '{STARTER}'"))


def credentials_updated(stack) -> str:
    """When our credentials were last written (import:credentials upserts them)."""
    return sql(stack, "SELECT string_agg(id || '=' || \"updatedAt\", ',' ORDER BY id) FROM credentials_entity "
                      "WHERE id LIKE 'localai%'")


def decrypted_credentials(stack) -> dict[str, dict]:
    """Our credentials as n8n decrypts them: {id: data}."""
    cid = stack.containers()["n8n"]["Id"]
    result = subprocess.run(["docker", "exec", "-i", cid, "sh", "-c", EXPORT_SCRIPT],
                            input=env(stack)["N8N_DB_PASSWORD"] + "\n", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {item["id"]: item["data"] for item in json.loads(result.stdout) if item["id"].startswith("localai")}
