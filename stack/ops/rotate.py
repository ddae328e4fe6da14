"""`secrets rotate KEY`: change a secret everywhere it lives, or explain why it must not change."""
from __future__ import annotations

from pathlib import Path

from stack.config import prepare
from stack.engines.compose import Compose
from stack.envfile import EnvFile, write_atomic
from stack.errors import ConfigError, StackError
from stack.ops import dbstate, n8n_setup
from stack.schema import BY_KEY, SECRET_KEYS
from stack.secrets import bcrypt_base64, generate, sign_api_key
from stack.settings import Settings

ROTATABLE = {
    "JWT_SECRET": "ANON_KEY and SERVICE_ROLE_KEY are re-signed; update clients that hold the old keys",
    "POSTGRES_PASSWORD": "changed inside the running database for every Supabase role that logs in",
    "N8N_DB_PASSWORD": "changed inside the running database for n8n's role",
    "DASHBOARD_PASSWORD": "the Supabase Studio login changes",
    "WEBUI_SECRET_KEY": "everyone is signed out of Open WebUI",
    "N8N_USER_MANAGEMENT_JWT_SECRET": "everyone is signed out of n8n",
    "SEARXNG_SECRET": "no visible effect",
    "CADDY_BASIC_AUTH_PASSWORD": "the basic auth in front of Ollama and SearXNG changes",
    "SECRET_KEY_BASE": "Realtime and pooler sessions restart",
    "LOGFLARE_PUBLIC_ACCESS_TOKEN": "analytics ingest token changes",
    "LOGFLARE_PRIVATE_ACCESS_TOKEN": "analytics admin token changes",
}
REFUSED = {
    "N8N_ENCRYPTION_KEY": "n8n encrypts every saved credential with it; a new key makes them unreadable",
    "VAULT_ENC_KEY": "the pooler's stored secrets are encrypted with it",
    "PG_META_CRYPTO_KEY": "postgres-meta's stored connection secrets are encrypted with it",
    "REALTIME_DB_ENC_KEY": "Realtime's tenant settings are encrypted with it",
    "ANON_KEY": "rotate JWT_SECRET instead; it re-signs both API keys",
    "SERVICE_ROLE_KEY": "rotate JWT_SECRET instead; it re-signs both API keys",
    "CADDY_BASIC_AUTH_HASH": "rotate CADDY_BASIC_AUTH_PASSWORD instead; the hash follows it",
    "WEBUI_ADMIN_PASSWORD": "Open WebUI keeps it in its own database; change it in Open WebUI (Settings -> "
                            "Account), then write the new one into .env",
}
LOGIN_ROLES = ("postgres", "supabase_admin", "authenticator", "supabase_auth_admin", "supabase_storage_admin",
               "supabase_functions_admin", "pgbouncer")


def new_values(key: str, settings: Settings) -> dict[str, str]:
    """Fresh value for `key` plus everything derived from it."""
    values = dict(settings.values)
    values[key] = generate(BY_KEY[key].secret, values)
    if key == "JWT_SECRET":
        values["ANON_KEY"] = sign_api_key("anon", values[key])
        values["SERVICE_ROLE_KEY"] = sign_api_key("service_role", values[key])
    if key == "CADDY_BASIC_AUTH_PASSWORD":
        values["CADDY_BASIC_AUTH_HASH"] = bcrypt_base64(values[key])
    return {k: v for k, v in values.items() if v != settings.values[k]}


def _sql(key: str, value: str) -> str:
    """SQL that applies the new value inside the database (sent on stdin, never in argv). The JWT
    secret no longer lives there (templates/supabase/db/jwt.sql says why)."""
    if key == "POSTGRES_PASSWORD":
        roles = ", ".join(f"'{r}'" for r in LOGIN_ROLES)
        return ("DO $$ DECLARE r text; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE rolname IN (" + roles
                + f") LOOP EXECUTE format('ALTER ROLE %I WITH PASSWORD %L', r, '{value}'); END LOOP; END $$;\n")
    if key == "N8N_DB_PASSWORD":
        return f"ALTER ROLE n8n WITH PASSWORD '{value}';\n"
    return ""


def check_rotatable(key: str) -> None:
    if key in REFUSED:
        raise ConfigError(f"{key} cannot be rotated: {REFUSED[key]}")
    if key not in ROTATABLE:
        known = ", ".join(sorted(ROTATABLE))
        hint = "" if key in SECRET_KEYS else " (not a secret of this stack)"
        raise ConfigError(f"unknown secret {key}{hint}; rotatable: {known}")


def rotate(root: Path, key: str, compose: Compose) -> dict[str, str]:
    """Change `key` in the database (if it lives there) and in .env. Returns the changed keys."""
    check_rotatable(key)
    prepared = prepare(root, {})
    settings = prepared.settings
    prepared.commit()
    updates = new_values(key, settings)
    sql = _sql(key, updates[key])
    if sql and dbstate.database_volume_exists(settings):
        state = compose.states().get("db")
        if not state or state.state != "running":
            raise StackError(f"{key} also lives in the database: start the stack first (`python start.py`), "
                             "then rotate")
        compose.exec("db", [*dbstate.admin_psql(settings["POSTGRES_DB"]), "-v", "ON_ERROR_STOP=1", "-q"],
                     input_text=sql, timeout=120)
    env_file = EnvFile.load(prepared.env_file.path)
    write_atomic(env_file.path, env_file.render(updates), mode=0o600)
    dbstate.record(Settings(root=root, values={**settings.values, **updates}))
    n8n_setup.after_rotation(Settings(root=root, values={**settings.values, **updates}), set(updates), compose)
    return {k: ROTATABLE.get(k, "derived") for k in updates}
