"""Settings of a stack: `load` reads without writing; `prepare(...).commit()` (up and render) saves.

build/ carries a record of the settings it was rendered from (APPLIED_FILE: their digest, the
project name and every non-secret value). Commands that only look at or stop the running stack
compare .env with it: an edit not applied yet is reported, never half-acted on.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from stack.config import redact
from stack.config.envfile import EnvFile, write_atomic
from stack.config.schema import SECRET_KEYS, SETTINGS
from stack.config.secrets import check_existing, fill_missing
from stack.config.settings import Settings, build, read_env
from stack.errors import ConfigError

REMEMBERED = ("PROFILE", "ENVIRONMENT", "TARGET")
APPLIED_FILE = ".localai-applied.json"
CHANGED = ".env changed since the last `start.py` run"
NO_STACK = "no .env here: the stack was never started from this folder (run `python start.py`)"


@dataclass
class Prepared:
    """Validated settings with every secret present, and the .env text still to be written."""

    settings: Settings
    env_file: EnvFile
    env_text: str | None  # None: .env already says exactly this

    def commit(self) -> bool:
        """Write .env (atomically, 0600) if it changed; always make sure it is 0600."""
        path = self.env_file.path
        if self.env_text is not None:
            write_atomic(path, self.env_text, mode=0o600)
            return True
        if path.exists() and (path.stat().st_mode & 0o777) != 0o600:
            path.chmod(0o600)
        return False


def prepare(root: Path, overrides: dict[str, str] | None = None,
            suggest_models: Callable[[], str] | None = None) -> Prepared:
    """Load .env (or the example), apply flags, validate, and generate missing secrets in memory.
    `suggest_models` gives OLLAMA_MODELS for a first .env (doctor knows what fits this machine)."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    env_file = read_env(root)
    settings = build(root, env_file.values, overrides)
    new_secrets = fill_missing(settings.values)
    values = {**settings.values, **new_secrets}
    updates = dict(new_secrets)
    for key in REMEMBERED:
        if key in overrides and env_file.values.get(key) != values[key]:
            updates[key] = values[key]
    exists = env_file.path.exists()
    if not exists and "OLLAMA_MODELS" not in overrides and suggest_models is not None:
        suggestion = suggest_models()
        if suggestion != values["OLLAMA_MODELS"]:
            updates["OLLAMA_MODELS"] = values["OLLAMA_MODELS"] = suggestion
    text = env_file.render(updates) if (updates or not exists) else None
    return Prepared(Settings(root=root, values=values), env_file, text)


def load(root: Path) -> Settings:
    """The settings of an existing stack, as .env says them: nothing is written or generated.
    Every secret found is registered for masking."""
    path = root / ".env"
    if not path.exists():
        raise ConfigError(NO_STACK)
    settings = build(root, EnvFile.load(path).values, {})
    check_existing(settings.values)
    return settings


def digest(settings: Settings) -> str:
    """SHA-256 over every setting (secrets included, never shown): equal iff the settings are."""
    return hashlib.sha256(json.dumps(settings.values, sort_keys=True).encode()).hexdigest()


def applied_record(settings: Settings) -> bytes:
    """The record build/ carries of what it was rendered from (deterministic, no secret value)."""
    public = {s.key: settings[s.key] for s in SETTINGS if s.key not in SECRET_KEYS}
    data = {"digest": digest(settings), "project": settings.project, "settings": public}
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


@dataclass(frozen=True)
class Applied:
    """What the running stack was made from. `settings` has the secrets only when `current`."""

    settings: Settings
    current: bool      # .env says exactly what build/ was made from
    invalid: str = ""  # when not current because .env cannot be read: why (one line naming the key)

    def warning(self) -> str:
        """What to tell the user when not current (printed as a warning)."""
        last = f"showing the stack as last applied (project {self.settings.project})"
        if self.invalid:
            return f".env: {self.invalid}; {last}: fix .env, then run `start.py` to apply"
        return f"{CHANGED}; {last}: run `start.py` to apply"

    def require_current(self) -> Settings:
        """For commands that act with the settings: refuse a half-applied state."""
        if self.invalid:
            raise ConfigError(self.invalid)
        if not self.current:
            raise ConfigError(f"{CHANGED}; run `start.py` to apply it first (or undo the edit)")
        return self.settings


def _recorded(build_dir: Path) -> dict[str, object] | None:
    try:
        data = json.loads((build_dir / APPLIED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        return None
    return data


def _mask_what_env_holds(path: Path) -> None:
    """A .env that does not validate still holds the secrets the stack runs with: mask them anyway
    (python-dotenv's lenient reader skips the lines it cannot parse)."""
    try:
        found = dotenv_values(path)
    except (OSError, UnicodeDecodeError):
        return
    redact.register(*(value or "" for key, value in found.items() if key in SECRET_KEYS))


def applied(root: Path, build_dir: Path) -> Applied:
    """Compare .env with the record in `build_dir`. Pure: reads only. Without a record (nothing
    rendered yet, or by an older start.py) .env is all there is and must be valid."""
    if not (root / ".env").exists():
        raise ConfigError(NO_STACK)
    record = _recorded(build_dir)
    try:
        settings: Settings | None = load(root)
        invalid = ""
    except ConfigError as exc:
        if record is None:
            raise
        settings, invalid = None, str(exc)
        _mask_what_env_holds(root / ".env")
    if record is None:
        assert settings is not None
        return Applied(settings, True)
    if settings is not None and digest(settings) == record.get("digest"):
        return Applied(settings, True)
    stored = record["settings"]
    assert isinstance(stored, dict)
    values = {s.key: str(stored.get(s.key, s.default)) if s.key not in SECRET_KEYS else "" for s in SETTINGS}
    return Applied(Settings(root=root, values=values), False, invalid)
