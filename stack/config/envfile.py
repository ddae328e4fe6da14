"""Read and write `.env` without losing the user's comments, order or formatting.

Parsing is python-dotenv's own parser (the same rules `load_dotenv` applies); writing replaces
only the lines of keys whose value changed and appends new keys, atomically, with mode 0600.
"""
from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dotenv.parser import parse_stream

from stack.errors import ConfigError

# A value we write must survive both python-dotenv and Compose's .env parser unchanged.
KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SAFE_UNQUOTED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:/,@+=")


@dataclass
class EnvFile:
    """The parsed file: ordered raw chunks plus the key -> value view."""

    path: Path
    chunks: list[tuple[str | None, str]] = field(default_factory=list)  # (key or None, original text)
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, path: Path) -> EnvFile:
        """Parse `text`; malformed lines or duplicate keys are a ConfigError naming the line."""
        if "\x00" in text:
            raise ConfigError(f"{path.name}: contains binary data (NUL bytes); it must be a text file "
                              "of KEY=value lines")
        env = cls(path)
        for binding in parse_stream(io.StringIO(text)):
            original = binding.original.string
            if binding.error:
                raise ConfigError(f"{path.name} line {_first_line(binding.original)}: cannot parse "
                                  f"'{_clip(_key_part(original))}' (expected KEY=value)")
            key = binding.key
            if key is not None:
                where = f"{path.name} line {_first_line(binding.original)}"
                if not KEY_RE.fullmatch(key):
                    raise ConfigError(f"{where}: '{_clip(key)}' is not a valid name (use A-Z, 0-9 and _)")
                if binding.value is None:
                    raise ConfigError(f"{where}: {key} has no '='; write {key}=value")
                if key in env.values:
                    raise ConfigError(f"{where}: {key} is set twice; "
                                      "keep one line")
                value = binding.value if binding.value is not None else ""
                if "\n" in value or "\r" in value:
                    raise ConfigError(f"{where}: {key} has a line break "
                                      "in its value; values must fit on one line")
                env.values[key] = value
            env.chunks.append((key, original))
        return env

    @classmethod
    def load(cls, path: Path) -> EnvFile:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path.name}: is not UTF-8 text (byte {exc.start}); "
                              "it must be a text file of KEY=value lines") from exc
        return cls.parse(text, path)

    def render(self, updates: dict[str, str]) -> str:
        """Text of the file with `updates` applied: changed keys rewritten in place, new ones appended."""
        pending = dict(updates)
        parts: list[str] = []
        for key, original in self.chunks:
            if key is not None and key in pending:
                value = pending.pop(key)
                if value == self.values.get(key):
                    parts.append(original)
                else:
                    newline = "\n" if original.endswith("\n") else ""
                    parts.append(f"{key}={quote(value)}{newline}")
            else:
                parts.append(original)
        text = "".join(parts)
        if pending:
            if text and not text.endswith("\n"):
                text += "\n"
            text += "".join(f"{k}={quote(v)}\n" for k, v in pending.items())
        return text


def quote(value: str) -> str:
    """Write a value so that python-dotenv and Compose read it back identically."""
    if value and set(value) <= SAFE_UNQUOTED:
        return value
    if "'" in value:
        raise ConfigError("a value containing a single quote cannot be written safely to .env")
    return f"'{value}'"


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write `text` to `path` via a temp file + rename, so a crash never leaves half a file."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _first_line(original: object) -> int:
    """Line number of the first non-blank line of a chunk (dotenv counts from leading blanks)."""
    text: str = original.string  # type: ignore[attr-defined]
    start: int = original.line  # type: ignore[attr-defined]
    return start + len(text) - len(text.lstrip("\n")) if text.strip() else start


def _key_part(original: str) -> str:
    """What we may echo of a bad line: the part before '=' (never a value, which may be a secret)."""
    line = original.strip().splitlines()[0] if original.strip() else ""
    return line.split("=", 1)[0].strip()


def _clip(text: str, width: int = 40) -> str:
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= width else text[: width - 3] + "..."
