"""Wiring of n8n after it is ready: our credentials, and the starter agent workflow, active.

What is there is decided from n8n's database, through n8n's own CLI inside the running container
(so n8n encrypts credentials with our N8N_ENCRYPTION_KEY and reads its tables as its own role):
- our credentials (fixed ids) are upserted on every `up` and after a rotation of a value they hold
  (`import:credentials` upserts by id: n8n commands/import/credentials.js:145), so a rotated
  database password or service key never leaves them stale;
- the starter workflow is imported only when its id is not in the database (`list:workflow`):
  a workflow the user has is never overwritten; a reset database gets it again. Import leaves it
  inactive (commands/import/workflow.js:59-65), so it is then activated through the REST API as
  the owner (POST /rest/workflows/:id/activate, workflows.controller.js:566), which registers its
  webhook at once; the CLI's publish:workflow would need a restart (commands/publish/workflow.js:38).
Secrets travel on stdin only: into a 0600 temp file inside the container, removed right after.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from stack.config.settings import Settings
from stack.engines.compose import Compose
from stack.errors import StackError
from stack.render.context import context

STARTER_ID = "localaiStarterAgent"
AGENT_USER = "openwebui"
# Settings our saved credentials hold: a change to any of them means the credentials must follow.
CREDENTIAL_KEYS = frozenset({"N8N_DB_PASSWORD", "SERVICE_ROLE_KEY", "N8N_AGENT_PASSWORD"})
# stdin: first line the current n8n database password (a rotation may have changed it since the
# container started), then the JSON to import.
IMPORT_SCRIPT = ("umask 077; IFS= read -r DB_POSTGRESDB_PASSWORD; export DB_POSTGRESDB_PASSWORD; f=$(mktemp); "
                 "cat > \"$f\" && n8n {command} --input=\"$f\"; rc=$?; rm -f \"$f\"; exit $rc")
# Plain one-id-a-line output: n8n's console log format at info level and text format is the bare
# message (@n8n/backend-common dist/logging/logger.js:145-157; @n8n/config logging.config.js:117-125).
LIST_SCRIPT = ("IFS= read -r DB_POSTGRESDB_PASSWORD; export DB_POSTGRESDB_PASSWORD; "
               "N8N_LOG_LEVEL=info N8N_LOG_FORMAT=text N8N_LOG_OUTPUT=console exec n8n list:workflow --onlyId")
WORKFLOW_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")
# Runs in n8n's container with its node (`node -` reads the program from stdin), after a first
# line `const input = {...};`: log in as the owner, activate the current version of one workflow.
ACTIVATE_JS = """
(async () => {
  const base = 'http://127.0.0.1:5678/rest';
  const login = await fetch(base + '/login', {method: 'POST', headers: {'content-type': 'application/json'},
    body: JSON.stringify({emailOrLdapLoginId: input.email, password: input.password})});
  if (!login.ok) throw new Error('login as the n8n owner failed: HTTP ' + login.status);
  const cookie = (login.headers.get('set-cookie') || '').split(';')[0];
  const headers = {'content-type': 'application/json', cookie};
  const got = await fetch(base + '/workflows/' + input.id, {headers});
  if (!got.ok) throw new Error('reading workflow ' + input.id + ' failed: HTTP ' + got.status);
  const workflow = (await got.json()).data;
  const done = await fetch(base + '/workflows/' + input.id + '/activate', {method: 'POST', headers,
    body: JSON.stringify({versionId: workflow.versionId})});
  if (!done.ok) throw new Error('activating ' + input.id + ' failed: HTTP ' + done.status + ' ' + await done.text());
  console.log('activated ' + input.id);
})().catch((e) => { console.error(e.message); process.exit(1); });
"""


def credentials(settings: Settings) -> list[dict[str, object]]:
    """Our credentials, by fixed ids the starter workflow refers to, with the current values."""
    ctx = context(settings)
    db = ctx["records"]["db"]
    return [
        {"id": "localaiOllama", "name": "Local Ollama", "type": "ollamaApi",
         "data": {"baseUrl": ctx["ollama_url"]}},
        {"id": "localaiSearxng", "name": "Local SearXNG", "type": "searXngApi",
         "data": {"apiUrl": ctx["internal"]["searxng"]}},
        {"id": "localaiPostgres", "name": "Local Postgres (n8n database)", "type": "postgres",
         "data": {"host": db.name, "port": db.port, "database": "n8n", "user": "n8n",
                  "password": settings["N8N_DB_PASSWORD"], "ssl": "disable"}},
        {"id": "localaiSupabase", "name": "Local Supabase", "type": "supabaseApi",
         "data": {"host": ctx["internal"]["kong"], "serviceRole": settings["SERVICE_ROLE_KEY"]}},
        {"id": "localaiAgentAuth", "name": "Local AI agent webhook (Open WebUI)", "type": "httpBasicAuth",
         "data": {"user": AGENT_USER, "password": settings["N8N_AGENT_PASSWORD"]}},
    ]


def parse_workflow_ids(stdout: str) -> set[str]:
    """Ids from `n8n list:workflow --onlyId` (one a line; n8n's log lines have spaces and are skipped)."""
    return {line.strip() for line in stdout.splitlines() if WORKFLOW_ID.fullmatch(line.strip())}


def _fail(what: str, exc: StackError) -> StackError:
    last = exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else str(exc)
    return StackError(f"n8n {what} failed: {last}",
                      hint="see `python start.py logs n8n`; start.py tries again on the next run")


def _import(settings: Settings, compose: Compose, command: str, payload: str) -> None:
    try:
        compose.exec("n8n", ["sh", "-c", IMPORT_SCRIPT.format(command=command)],
                     input_text=settings["N8N_DB_PASSWORD"] + "\n" + payload, timeout=300)
    except StackError as exc:
        raise _fail(command, exc) from exc


def update_credentials(settings: Settings, compose: Compose) -> None:
    """Upsert our credentials with the values in .env now (idempotent)."""
    _import(settings, compose, "import:credentials", json.dumps(credentials(settings)))


def workflow_ids(settings: Settings, compose: Compose) -> set[str]:
    """The workflow ids in n8n's database, as n8n itself lists them."""
    try:
        result = compose.exec("n8n", ["sh", "-c", LIST_SCRIPT], input_text=settings["N8N_DB_PASSWORD"] + "\n",
                              timeout=300)
    except StackError as exc:
        raise _fail("list:workflow", exc) from exc
    return parse_workflow_ids(result.stdout)


def activate(settings: Settings, compose: Compose, workflow_id: str) -> None:
    """Activate a workflow through n8n's REST API as the owner (its webhooks register at once)."""
    payload = json.dumps({"email": settings["N8N_OWNER_EMAIL"], "password": settings["N8N_OWNER_PASSWORD"],
                          "id": workflow_id})
    try:
        compose.exec("n8n", ["node", "-"], input_text=f"const input = {payload};\n{ACTIVATE_JS}", timeout=120)
    except StackError as exc:
        raise _fail(f"activating {workflow_id}", exc) from exc


def sync(settings: Settings, compose: Compose, build: Path) -> list[str]:
    """After n8n is ready: credentials current; starter workflow imported and active unless present."""
    update_credentials(settings, compose)
    done = []
    if STARTER_ID not in workflow_ids(settings, compose):
        _import(settings, compose, "import:workflow", (build / "n8n" / "starter-agent.json").read_text())
        activate(settings, compose, STARTER_ID)
        done.append("imported and activated the starter agent workflow")
    return done


def after_rotation(settings: Settings, changed: set[str], compose: Compose) -> bool:
    """Called by `secrets rotate`: refresh our credentials when a value they hold changed.

    Returns True when it updated them; False when nothing they hold changed, n8n is not running or
    the update failed: the rotation itself is done, and the next `up` updates them (sync)."""
    if not changed & CREDENTIAL_KEYS:
        return False
    state = compose.states().get("n8n")
    if not state or state.state != "running":
        return False
    try:
        update_credentials(settings, compose)
    except StackError:
        return False
    return True
