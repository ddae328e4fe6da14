"""First-run wiring of n8n: credentials for our services and a starter agent workflow.

Imported ONCE with n8n's own `import:credentials` / `import:workflow` inside the running container,
so n8n encrypts the credentials with our N8N_ENCRYPTION_KEY. The credentials (they hold secrets)
travel on stdin into a 0600 temp file inside the container that is removed right after; a marker
in n8n's data volume means "done" and survives restarts, and goes away with the volume.
"""
from __future__ import annotations

import json
from pathlib import Path

from stack.compose import Compose
from stack.errors import StackError
from stack.render import context
from stack.settings import Settings

MARKER = "/home/node/.n8n/.localai-imported"
IMPORT_SCRIPT = ("umask 077; f=$(mktemp); cat > \"$f\" && n8n {command} --input=\"$f\"; rc=$?; "
                 "rm -f \"$f\"; exit $rc")


def credentials(settings: Settings) -> list[dict[str, object]]:
    ctx = context(settings)
    return [
        {"id": "localaiOllama", "name": "Local Ollama", "type": "ollamaApi",
         "data": {"baseUrl": ctx["ollama_url"]}},
        {"id": "localaiSearxng", "name": "Local SearXNG", "type": "searXngApi",
         "data": {"apiUrl": "http://searxng:8080"}},
        {"id": "localaiPostgres", "name": "Local Postgres (n8n database)", "type": "postgres",
         "data": {"host": "db", "port": 5432, "database": "n8n", "user": "n8n",
                  "password": settings["N8N_DB_PASSWORD"], "ssl": "disable"}},
        {"id": "localaiSupabase", "name": "Local Supabase", "type": "supabaseApi",
         "data": {"host": "http://kong:8000", "serviceRole": settings["SERVICE_ROLE_KEY"]}},
    ]


def already_imported(compose: Compose) -> bool:
    return compose.run("exec", "-T", "n8n", "test", "-f", MARKER, check=False, timeout=60).returncode == 0


def import_once(settings: Settings, compose: Compose, build: Path) -> bool:
    """Import credentials and the starter workflow unless this n8n volume already has them."""
    if already_imported(compose):
        return False
    workflow = (build / "n8n" / "starter-agent.json").read_text()
    for command, payload in (("import:credentials", json.dumps(credentials(settings))),
                             ("import:workflow", workflow)):
        try:
            compose.run("exec", "-T", "n8n", "sh", "-c", IMPORT_SCRIPT.format(command=command),
                        input_text=payload, timeout=300)
        except StackError as exc:
            raise StackError(f"n8n {command} failed: {exc.stderr.splitlines()[-1] if exc.stderr else exc}",
                             hint="see `python start.py logs n8n`; start.py tries again on the next run") from exc
    compose.run("exec", "-T", "n8n", "sh", "-c", f"date > {MARKER}", timeout=60)
    return True
