"""Remember which secrets the database was initialised with, to stop a silent mismatch.

Postgres keeps the passwords (and JWT settings) it was created with; editing .env later does not
change them. We record a SHA-256 fingerprint of those values once the database exists and refuse to
start, with an explanation, when .env no longer matches.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from stack import runner
from stack.envfile import write_atomic
from stack.errors import ConfigError
from stack.settings import Settings

STATE_FILE = ".localai-state.json"
BAKED_IN = ("POSTGRES_PASSWORD", "JWT_SECRET", "N8N_DB_PASSWORD")


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _path(settings: Settings) -> Path:
    return settings.root / STATE_FILE


def load(settings: Settings) -> dict[str, str]:
    try:
        data = json.loads(_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    if data.get("project") != settings.project:
        return {}
    return dict(data.get("database", {}))


def recorded_db_image(settings: Settings) -> str | None:
    """The database image of the last successful `up`: the one that can open the data volume."""
    try:
        data = json.loads(_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return data.get("db_image") if data.get("project") == settings.project else None


def record(settings: Settings) -> None:
    data = {"project": settings.project, "database": {k: fingerprint(settings[k]) for k in BAKED_IN},
            "db_image": settings["SUPABASE_DB_IMAGE"]}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if not _path(settings).exists() or _path(settings).read_text() != text:
        write_atomic(_path(settings), text, mode=0o600)


def database_volume_exists(settings: Settings) -> bool:
    result = runner.run(["docker", "volume", "inspect", f"{settings.project}_db_data"], check=False, timeout=30)
    return result.returncode == 0


def check_unchanged(settings: Settings) -> None:
    """Before anything starts: refuse if .env changed a secret the existing database baked in."""
    recorded = load(settings)
    if not recorded or not database_volume_exists(settings):
        return
    changed = [k for k in BAKED_IN if k in recorded and recorded[k] != fingerprint(settings[k])]
    if changed:
        key = changed[0]
        raise ConfigError(
            f"{key} in .env is not the one the existing database was created with, and the database keeps "
            f"the old one; put the old value back in .env, or change it properly with "
            f"`python start.py secrets rotate {key}` (changed: {', '.join(changed)})")
