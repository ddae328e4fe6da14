"""Settings + secrets as one step that validates everything before anything is written."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stack import redact
from stack.envfile import EnvFile, write_atomic
from stack.schema import SECRET_KEYS
from stack.secrets import fill_missing
from stack.settings import Settings, build, read_env

REMEMBERED = ("PROFILE", "ENVIRONMENT")


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
    On a first run, `suggest_models` (doctor's advice for this machine) picks OLLAMA_MODELS."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    env_file = read_env(root)
    settings = build(root, env_file.values, overrides)
    new_secrets = fill_missing(settings.values)
    values = {**settings.values, **new_secrets}
    updates = dict(new_secrets)
    for key in REMEMBERED:
        if key in overrides and env_file.values.get(key) != values[key]:
            updates[key] = values[key]
    redact.register(*(values[k] for k in SECRET_KEYS))
    exists = env_file.path.exists()
    if not exists and "OLLAMA_MODELS" not in overrides and suggest_models is not None:
        suggestion = suggest_models()
        if suggestion != values["OLLAMA_MODELS"]:
            updates["OLLAMA_MODELS"] = values["OLLAMA_MODELS"] = suggestion
    text = env_file.render(updates) if (updates or not exists) else None
    return Prepared(Settings(root=root, values=values), env_file, text)
