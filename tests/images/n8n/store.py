"""What the n8n double keeps in its Postgres schema, as n8n 2.41.3 keeps it in its own tables
(npm @n8n/db@1.41.2): workflows with a version id and an active flag, credentials by id, the
owner's bcrypt hash. Every read goes to the database, as n8n looks webhooks and credentials up
there per request, so CLI changes made while the server runs are seen at once."""
from __future__ import annotations

import json
import uuid

from doublelib.common import Pg, PgResult, ident, literal, psql

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS {s}.n8n_double_settings (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.n8n_double_workflows (id text PRIMARY KEY, name text NOT NULL,
  active boolean NOT NULL DEFAULT false, version_id text NOT NULL, nodes jsonb NOT NULL, connections jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.n8n_double_credentials (id text PRIMARY KEY, name text NOT NULL, type text NOT NULL,
  data jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.n8n_double_users (role text PRIMARY KEY, email text, password_hash text);
"""


class Store:
    def __init__(self, pg: Pg, schema: str) -> None:
        self.pg, self.s = pg, ident(schema)

    def run(self, sql: str) -> PgResult:
        return psql(self.pg, sql)

    def migrate(self) -> PgResult:
        """n8n's migrations create its tables and the owner shell user (role global:owner)."""
        return self.run(SCHEMA_SQL.format(s=self.s)
                        + f"INSERT INTO {self.s}.n8n_double_users (role) VALUES ('global:owner') "
                          "ON CONFLICT DO NOTHING;\n"
                        + f"INSERT INTO {self.s}.n8n_double_settings VALUES ('lastStart', now()::text) "
                          "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;")

    def _rows(self, sql: str) -> list[dict]:
        result = self.run(sql)
        if not result.ok:
            raise RuntimeError(result.reason())
        return [json.loads(line) for line in result.out.splitlines() if line.strip()]

    # -- owner ---------------------------------------------------------------------------------
    def set_owner(self, email: str, password_hash: str) -> PgResult:
        """ownership.service.js setupOwner with overwriteExisting: the shell owner gets email and hash."""
        return self.run(f"UPDATE {self.s}.n8n_double_users SET email = {literal(email.lower())}, "
                        f"password_hash = {literal(password_hash)} WHERE role = 'global:owner';")

    def owner(self) -> dict | None:
        rows = self._rows(f"SELECT row_to_json(u) FROM {self.s}.n8n_double_users u WHERE role = 'global:owner'")
        return rows[0] if rows and rows[0].get("password_hash") else None

    # -- credentials ---------------------------------------------------------------------------
    def upsert_credentials(self, items: list[dict]) -> PgResult:
        """commands/import/credentials.js:145: upsert by id (a new id when none is given)."""
        values = ", ".join(
            f"({literal(str(c.get('id') or uuid.uuid4().hex[:16]))}, {literal(str(c['name']))}, "
            f"{literal(str(c['type']))}, {literal(json.dumps(c['data']))}::jsonb)" for c in items)
        if not values:
            return PgResult(0, "", "")
        return self.run(f"INSERT INTO {self.s}.n8n_double_credentials (id, name, type, data) VALUES {values} "
                        "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type, "
                        "data = EXCLUDED.data;")

    def credential(self, credential_id: str) -> dict | None:
        rows = self._rows(f"SELECT row_to_json(c) FROM {self.s}.n8n_double_credentials c "
                          f"WHERE id = {literal(credential_id)}")
        return rows[0] if rows else None

    # -- workflows -----------------------------------------------------------------------------
    def import_workflows(self, items: list[dict]) -> PgResult:
        """import:workflow: insert or overwrite by id, a new version, and deactivated
        (commands/import/workflow.js:59-65, activeState defaults to "false")."""
        values = ", ".join(
            f"({literal(str(w.get('id') or uuid.uuid4().hex[:16]))}, {literal(str(w.get('name') or 'My workflow'))}, "
            f"false, {literal(str(w.get('versionId') or uuid.uuid4()))}, {literal(json.dumps(w['nodes']))}::jsonb, "
            f"{literal(json.dumps(w['connections']))}::jsonb)" for w in items)
        if not values:
            return PgResult(0, "", "")
        return self.run(f"INSERT INTO {self.s}.n8n_double_workflows (id, name, active, version_id, nodes, connections) "
                        f"VALUES {values} ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, active = false, "
                        "version_id = EXCLUDED.version_id, nodes = EXCLUDED.nodes, connections = EXCLUDED.connections;")

    def workflows(self, active: bool | None = None) -> list[dict]:
        where = "" if active is None else f" WHERE active = {'true' if active else 'false'}"
        return self._rows(f"SELECT row_to_json(w) FROM {self.s}.n8n_double_workflows w{where} ORDER BY id")

    def workflow(self, workflow_id: str) -> dict | None:
        rows = self._rows(f"SELECT row_to_json(w) FROM {self.s}.n8n_double_workflows w "
                          f"WHERE id = {literal(workflow_id)}")
        return rows[0] if rows else None

    def set_active(self, workflow_id: str, active: bool) -> PgResult:
        return self.run(f"UPDATE {self.s}.n8n_double_workflows SET active = {'true' if active else 'false'} "
                        f"WHERE id = {literal(workflow_id)};")
