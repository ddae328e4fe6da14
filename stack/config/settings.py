"""Load `.env` (python-dotenv's parser), apply defaults and flags, validate into one Settings object."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from stack.config.envfile import EnvFile
from stack.config.images import image_problem
from stack.config.mirror import mirror_ref, registry_problem
from stack.config.schema import BY_KEY, SETTINGS, Setting, example_text
from stack.errors import ConfigError

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*){0,2}"
                      r"(?::[A-Za-z0-9][A-Za-z0-9._-]{0,127})?")
URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[^\s]*)?")
DURATION_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h)?(?:[0-9]+(?:ns|us|ms|s|m|h))*")
TZ_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+/-]{0,63}")


@dataclass(frozen=True)
class Settings:
    """Every known setting after defaults, flags and validation. Values stay strings (as in .env)."""

    root: Path
    values: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    @property
    def profile(self) -> str:
        return self.values["PROFILE"]

    @property
    def environment(self) -> str:
        return self.values["ENVIRONMENT"]

    @property
    def project(self) -> str:
        return self.values["PROJECT_NAME"]

    @property
    def public(self) -> bool:
        return self.environment == "public"

    def as_int(self, key: str) -> int:
        return int(self.values[key])

    def as_bool(self, key: str) -> bool:
        return self.values[key].lower() in TRUE

    @property
    def models(self) -> list[str]:
        return [m.strip() for m in self.values["OLLAMA_MODELS"].split(",") if m.strip()]

    def image(self, key: str) -> str:
        """The image reference the stack runs for the *_IMAGE setting `key`: its value, through
        IMAGE_REGISTRY when that is set (stack/config/mirror.py)."""
        return mirror_ref(self.values.get("IMAGE_REGISTRY", ""), self.values[key])

    @property
    def env_path(self) -> Path:
        return self.root / ".env"


def read_env(root: Path) -> EnvFile:
    """The user's .env, or (when missing) the example's text to be written as .env later."""
    path = root / ".env"
    if path.exists():
        return EnvFile.load(path)
    example = root / ".env.example"
    text = example.read_text(encoding="utf-8") if example.exists() else example_text()
    return EnvFile.parse(text, path)


def build(root: Path, file_values: dict[str, str], overrides: dict[str, str]) -> Settings:
    """Defaults < .env < flags, then validation. Raises ConfigError naming the key on bad input."""
    unknown = sorted(k for k in file_values if k not in BY_KEY)
    for key in unknown:
        print(f"warning: {key} in .env is not a Local AI Stack setting (ignored)", file=sys.stderr)
    values: dict[str, str] = {}
    for setting in SETTINGS:
        raw = overrides.get(setting.key, file_values.get(setting.key, ""))
        raw = raw.strip() if setting.kind != "secret" else raw
        values[setting.key] = _validate(setting, raw if raw != "" else setting.default)
    _cross_checks(values)
    return Settings(root=root, values=values)


def _validate(setting: Setting, value: str) -> str:
    """Normalise one value or raise a ConfigError that names the key and says what is expected."""
    key, kind = setting.key, setting.kind
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"{key}: contains control characters")
    if value == "" and (setting.optional or kind == "secret"):
        return ""
    if kind == "choice":
        if value not in setting.choices:
            raise ConfigError(f"{key}: '{_show(value)}' is not one of {', '.join(setting.choices)}")
    elif kind == "port":
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise ConfigError(f"{key}: '{_show(value)}' is not a port number (1-65535)")
        value = str(int(value))
    elif kind == "int":
        low, high = int(setting.extra.get("min", "0")), int(setting.extra.get("max", str(2**31)))
        if not value.isdigit() or not low <= int(value) <= high:
            raise ConfigError(f"{key}: '{_show(value)}' must be a whole number from {low} to {high}")
        value = str(int(value))
    elif kind == "bool":
        if value.lower() not in TRUE | FALSE:
            raise ConfigError(f"{key}: '{_show(value)}' must be true/false (or 1/0)")
        value = "true" if value.lower() in TRUE else "false"
    elif kind == "email":
        if not EMAIL_RE.fullmatch(value) or len(value) > 254:
            raise ConfigError(f"{key}: '{_show(value)}' is not an email address")
    elif kind == "hostname":
        value = _hostname(key, value)
    elif kind == "url":
        if not URL_RE.fullmatch(value):
            raise ConfigError(f"{key}: '{_show(value)}' is not an http(s) URL")
    elif kind == "image":
        problem = image_problem(value)
        if problem:
            raise ConfigError(f"{key}: '{_show(value)}' {problem}")
    elif kind == "registry":
        problem = registry_problem(value)
        if problem:
            raise ConfigError(f"{key}: '{_show(value)}' {problem}")
    elif kind == "name":
        pattern = PROJECT_RE if key == "PROJECT_NAME" else NAME_RE
        if not pattern.fullmatch(value):
            rule = "lowercase letters, digits, - and _" if key == "PROJECT_NAME" else "letters, digits, ., - and _"
            raise ConfigError(f"{key}: '{_show(value)}' may only contain {rule}")
    elif kind == "models":
        for model in (m.strip() for m in value.split(",")):
            if not model or not MODEL_RE.fullmatch(model):
                raise ConfigError(f"{key}: '{_show(model)}' is not a model name like llama3.2:3b")
    return _special(key, value)


def _special(key: str, value: str) -> str:
    if key == "OLLAMA_CONTEXT_LENGTH" and value != "auto":
        low, high = int(BY_KEY[key].extra["min"]), int(BY_KEY[key].extra["max"])
        if not value.isdigit() or not low <= int(value) <= high:
            raise ConfigError(f"{key}: '{_show(value)}' must be auto or a whole number from {low} to {high}")
        value = str(int(value))
    if key == "OLLAMA_GPU_COUNT" and value != "all" and not (value.isdigit() and int(value) > 0):
        raise ConfigError(f"{key}: '{_show(value)}' must be 'all' or a number of GPUs")
    if key == "OLLAMA_KEEP_ALIVE" and not DURATION_RE.fullmatch(value):
        raise ConfigError(f"{key}: '{_show(value)}' is not a duration like 5m, 1h or -1")
    if key == "TIMEZONE" and not TZ_RE.fullmatch(value):
        raise ConfigError(f"{key}: '{_show(value)}' is not a timezone name like Europe/Berlin")
    if key in ("STUDIO_DEFAULT_ORGANIZATION", "STUDIO_DEFAULT_PROJECT", "WEBUI_NAME") and (
            set(value) & set("$'\"\\`")):
        raise ConfigError(f"{key}: must not contain quotes, backslashes or $")
    return value


def _hostname(key: str, value: str) -> str:
    if "://" in value or "/" in value:
        raise ConfigError(f"{key}: '{_show(value)}' must be a bare domain like chat.example.com "
                          "(no scheme or path)")
    host = value.lower().rstrip(".")
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(LABEL_RE.fullmatch(label) for label in labels):
        raise ConfigError(f"{key}: '{_show(value)}' is not a valid domain name like chat.example.com")
    return host


def _cross_checks(values: dict[str, str]) -> None:
    """Checks across settings of one service; those across services are stack.services.check_settings."""
    if values["OLLAMA_KV_CACHE_TYPE"] != "f16" and values["OLLAMA_FLASH_ATTENTION"] != "true":
        raise ConfigError(
            f"OLLAMA_KV_CACHE_TYPE={values['OLLAMA_KV_CACHE_TYPE']} needs OLLAMA_FLASH_ATTENTION=1: Ollama "
            "only quantizes the KV cache with flash attention on (otherwise it silently uses f16); "
            "set OLLAMA_FLASH_ATTENTION=1 or OLLAMA_KV_CACHE_TYPE=f16")


def _show(value: str) -> str:
    """Echo user input safely: printable and short."""
    text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 60 else text[:57] + "..."
