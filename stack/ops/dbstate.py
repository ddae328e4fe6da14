"""Remember which secrets the database was initialised with, to stop a silent mismatch.

Postgres keeps the passwords (and JWT settings) it was created with; editing .env later does not
change them. We record a SHA-256 fingerprint of those values once the database exists and refuse to
start, with an explanation, when .env no longer matches.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from stack.config.envfile import write_atomic
from stack.config.secrets import IN_DATABASE
from stack.config.settings import Settings
from stack.engines import runner
from stack.errors import ConfigError
from stack.services import database_volume

STATE_FILE = ".localai-state.json"
# The secrets the database keeps are declared on each one (in_database, stack/config/schema.py).
# The JWT secret is not one: the database no longer stores it (templates/supabase/db/jwt.sql), and
# Realtime re-seeds its tenant from API_JWT_SECRET at every start (supabase/realtime
# priv/repo/seeds.exs: delete then insert).
# The role our own psql and pg_dumpall run as inside the db container. supabase/postgres demotes
# `postgres` from superuser (migrations/db/migrations/10000000000000_demote-postgres.sql), so as
# postgres, ALTER ROLE supabase_admin fails ("must be superuser to alter superuser roles") and
# pg_dumpall cannot read pg_authid. supabase_admin is the image's superuser (Dockerfile-17 ENV
# POSTGRES_USER); on the socket it logs in with its password (pg_hba.conf.j2 `local all
# supabase_admin scram-sha-256`), which psql takes from PGPASSWORD in the container's
# environment (compose/supabase/db.yml.j2), never from argv.
ADMIN_ROLE = "supabase_admin"


def admin_psql(database: str, program: str = "psql") -> list[str]:
    """argv that runs psql (or pg_dumpall) in the db container as ADMIN_ROLE (engine.exec runs it there)."""
    return [program, "-U", ADMIN_ROLE, *(("-d", database) if program == "psql" else ("-l", database))]


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _path(settings: Settings) -> Path:
    return settings.root / STATE_FILE


def _data(settings: Settings) -> dict[str, object]:
    """The state file's content for this project ({} when missing, unreadable or another project's)."""
    try:
        data = json.loads(_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("project") == settings.project else {}


def _write(settings: Settings, data: dict[str, object]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if not _path(settings).exists() or _path(settings).read_text() != text:
        write_atomic(_path(settings), text, mode=0o600)


def load(settings: Settings) -> dict[str, str]:
    return dict(_data(settings).get("database", {}))


def recorded_db_image(settings: Settings) -> str | None:
    """The database image of the last successful `up`: the one that can open the data volume."""
    image = _data(settings).get("db_image")
    return image if isinstance(image, str) else None


def record(settings: Settings) -> None:
    """The database's secrets and image as they are now; what else was remembered is kept."""
    data = {**_data(settings), "project": settings.project,
            "database": {k: fingerprint(settings[k]) for k in IN_DATABASE},
            "db_image": settings.image("SUPABASE_DB_IMAGE")}
    _write(settings, data)


def remembered(settings: Settings, name: str) -> str | None:
    """A fingerprint another step left with remember() (None: never, or for another project)."""
    value = dict(_data(settings).get("remembered", {})).get(name)
    return value if isinstance(value, str) else None


def remember(settings: Settings, name: str, value: str) -> None:
    """Keep a fingerprint of what a step last wrote somewhere we cannot cheaply read back."""
    data = _data(settings) or {"project": settings.project}
    data["remembered"] = {**dict(data.get("remembered", {})), name: value}
    _write(settings, data)


def database_volume_exists(settings: Settings) -> bool:
    result = runner.run(["docker", "volume", "inspect", f"{settings.project}_{database_volume()}"], check=False,
                        timeout=30)
    return result.returncode == 0


def check_unchanged(settings: Settings) -> None:
    """Before anything starts: refuse if .env changed a secret the existing database baked in."""
    recorded = load(settings)
    if not recorded or not database_volume_exists(settings):
        return
    changed = [k for k in IN_DATABASE if k in recorded and recorded[k] != fingerprint(settings[k])]
    if changed:
        key = changed[0]
        raise ConfigError(
            f"{key} in .env is not the one the existing database was created with, and the database keeps "
            f"the old one; put the old value back in .env, or change it properly with "
            f"`python start.py secrets rotate {key}` (changed: {', '.join(changed)})")
