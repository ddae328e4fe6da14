"""Wiring of n8n after it is ready: our credentials, and the starter agent workflow, active.

What is there is read from n8n's database as n8n's own role: one psql query in the db container for
our credential ids and the starter workflow's (n8n's tables, see PRESENT_SQL). Each n8n CLI command
boots all of n8n (about 10 s of the CPU here), so it runs only when there is something to write; n8n's
own CLI writes, inside the running container, so n8n encrypts with our N8N_ENCRYPTION_KEY:
- our credentials (fixed ids) are upserted when one is missing, or when what they hold differs from
  what was last written (its fingerprint is remembered in the state file), and after a rotation of
  a value they hold (`import:credentials` upserts by id: n8n commands/import/credentials.js:145),
  so a rotated database password or service key, or a profile switch, never leaves them stale;
- the starter workflow is imported only when its id is not in the database: a workflow the user
  has is never overwritten; a reset database gets it again. Where the query cannot answer, n8n's
  own `list:workflow` decides, and the credentials are written anyway. Import leaves it
  inactive (commands/import/workflow.js:59-65), so it is then activated through the REST API as
  the owner (POST /rest/workflows/:id/activate, workflows.controller.js:566), which registers its
  webhook at once; the CLI's publish:workflow would need a restart (commands/publish/workflow.js:38).
Secrets travel on stdin only: into a 0600 temp file inside the container, removed right after.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from stack.config.settings import Settings
from stack.engines.compose import Compose
from stack.errors import StackError
from stack.ops import dbstate
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
# What of ours is in n8n's database. Table names: n8n's entities are plain TypeORM @Entity() classes
# (@n8n/db 1.41.2, the one n8n 2.41.3 ships: dist/entities/workflow-entity.js:140,
# credentials-entity.js:83), so TypeORM's default naming gives workflow_entity and
# credentials_entity, behind DB_TABLE_PREFIX (empty by default, @n8n/config database.config.js:193;
# we never set it), in DB_POSTGRESDB_SCHEMA (default public); ids are varchar primary keys
# (abstract-entity.js:64). Read as n8n over TCP, the password on stdin (never in argv).
PRESENT_SQL = ("SELECT 'credential ' || id FROM credentials_entity WHERE id LIKE 'localai%' "
               "UNION ALL SELECT 'workflow ' || id FROM workflow_entity WHERE id = '{starter}'")
PRESENT_SCRIPT = ("IFS= read -r PGPASSWORD; export PGPASSWORD; "
                  "exec psql -X -h 127.0.0.1 -U n8n -d n8n -v ON_ERROR_STOP=1 -tA -c \"$0\"")
CREDENTIALS_WRITTEN = "n8n_credentials"  # the state file's name for what our credentials last held
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


def credentials_fingerprint(settings: Settings) -> str:
    """SHA-256 of what our credentials hold now (ids, names, types, values)."""
    return dbstate.fingerprint(json.dumps(credentials(settings), sort_keys=True))


@dataclass(frozen=True)
class Present:
    """Which of our ids n8n's database holds."""

    credentials: frozenset[str]
    starter: bool


def parse_present(stdout: str) -> Present:
    """Rows of PRESENT_SQL: `credential <id>` or `workflow <id>`, one a line."""
    rows = [line.strip().split(" ", 1) for line in stdout.splitlines() if " " in line.strip()]
    return Present(credentials=frozenset(ident for kind, ident in rows if kind == "credential"),
                   starter=any(kind == "workflow" and ident == STARTER_ID for kind, ident in rows))


def present(settings: Settings, compose: Compose) -> Present | None:
    """What of ours is in n8n's database, or None when the query cannot tell (then the CLI decides)."""
    try:
        result = compose.exec("db", ["sh", "-c", PRESENT_SCRIPT, PRESENT_SQL.format(starter=STARTER_ID)],
                              input_text=settings["N8N_DB_PASSWORD"] + "\n", timeout=60)
    except StackError:
        return None
    return parse_present(result.stdout)


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
    """Upsert our credentials with the values in .env now (idempotent), and remember what they hold."""
    _import(settings, compose, "import:credentials", json.dumps(credentials(settings)))
    dbstate.remember(settings, CREDENTIALS_WRITTEN, credentials_fingerprint(settings))


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
    seen = present(settings, compose)
    ours = {str(c["id"]) for c in credentials(settings)}
    if (seen is None or not ours <= seen.credentials
            or dbstate.remembered(settings, CREDENTIALS_WRITTEN) != credentials_fingerprint(settings)):
        update_credentials(settings, compose)
    starter = seen.starter if seen is not None else STARTER_ID in workflow_ids(settings, compose)
    done = []
    if not starter:
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
