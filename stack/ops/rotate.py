"""`secrets rotate KEY [KEY ...]`: change secrets everywhere they live, or explain why one must not change."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stack.config.envfile import EnvFile, write_atomic
from stack.config.schema import SECRET_KEYS
from stack.config.secrets import REFUSED, ROTATABLE, remake
from stack.config.settings import Settings
from stack.config.store import prepare
from stack.engines.compose import Compose
from stack.errors import ConfigError, StackError
from stack.ops import dbstate, n8n_setup

LOGIN_ROLES = ("postgres", "supabase_admin", "authenticator", "supabase_auth_admin", "supabase_storage_admin",
               "supabase_functions_admin", "pgbouncer")


def new_values(key: str, settings: Settings) -> dict[str, str]:
    """Fresh value for `key` plus everything made from it (declared on each secret), each one
    registered for masking before any command that carries it runs."""
    values = {**settings.values, **remake(key, settings.values)}
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


def _rotate_one(root: Path, key: str, compose: Compose) -> tuple[Settings, dict[str, str]]:
    """Change `key` in the database (if it lives there) and in .env: (the settings now, the new values)."""
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
    now = Settings(root=root, values={**settings.values, **updates})
    dbstate.record(now)
    return now, updates


def rotate(root: Path, keys: Sequence[str], compose: Compose) -> dict[str, str]:
    """Rotate each key in turn, every one checked before any changes; n8n's credentials are then
    refreshed once. Returns the changed keys (derived ones too) with what each rotation means."""
    keys = list(dict.fromkeys(keys))
    for key in keys:
        check_rotatable(key)
    settings, changed = None, {}
    for key in keys:
        try:
            settings, updates = _rotate_one(root, key, compose)
        except StackError as exc:
            if changed:  # the ones before stand (database and .env agree on them): say so
                done = ", ".join(keys[:keys.index(key)])
                exc.message = f"{exc.message} ({done} rotated; `python start.py` applies them)"
            raise
        changed.update(updates)
    if settings is not None:
        n8n_setup.after_rotation(settings, set(changed), compose)
    return {k: ROTATABLE.get(k, "derived") for k in changed}
