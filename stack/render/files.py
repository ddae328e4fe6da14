"""Render the whole stack into memory, deterministically, then write only what changed.

templates/** mirrors into the output tree, Caddyfile.j2 becomes Caddyfile, and the compose/
fragments of the enabled services (their records name them) merge into ONE docker-compose.yml.
"""
from __future__ import annotations

import copy
import hashlib
import tempfile
from pathlib import Path
from typing import Any

import jinja2
import yaml

from stack.config.envfile import write_atomic
from stack.config.settings import Settings
from stack.errors import ConfigError, StackError
from stack.render.context import context, environment
from stack.services import enabled_services

ROOT = Path(__file__).resolve().parent.parent.parent
MARKER = ".localai-build"
COMPOSE_FILE = "docker-compose.yml"
LOGGING = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def render_files(settings: Settings, root: Path = ROOT, probe: Any = None) -> dict[str, bytes]:
    """Render everything into memory: {relative path: content}. Nothing touches the disk.
    `probe` (a doctor.SystemProbe) is only asked for the VRAM when OLLAMA_CONTEXT_LENGTH is auto on a GPU."""
    ctx = context(settings, probe)
    files: dict[str, bytes] = {}
    try:
        tmpl_env = environment([root / "templates"])
        for path in sorted((root / "templates").rglob("*")):
            if path.is_file():
                rel = path.relative_to(root / "templates").as_posix()
                out_rel = rel.removesuffix(".j2")
                files[out_rel] = tmpl_env.get_template(rel).render(ctx).encode()
        files["Caddyfile"] = environment([root]).get_template("Caddyfile.j2").render(ctx).encode()

        def file_hash(rel: str) -> str:
            return _digest(files[rel])

        def dir_hash(prefix: str) -> str:
            keys = sorted(k for k in files if k.startswith(prefix.rstrip("/") + "/"))
            return _digest(*(k.encode() + b"\0" + files[k] for k in keys))

        compose_env = environment([root / "compose"])
        compose_env.globals.update(file_hash=file_hash, dir_hash=dir_hash)
        merged: dict[str, Any] = {"name": settings.project, "services": {}, "volumes": {}}
        for service in enabled_services(settings):
            text = compose_env.get_template(f"{service.fragment}.yml.j2").render(ctx)
            _merge(merged, yaml.safe_load(text), service.fragment)
    except jinja2.TemplateError as exc:
        raise StackError(f"template error: {exc}") from exc
    except yaml.YAMLError as exc:
        raise StackError(f"a compose fragment rendered invalid YAML: {exc}") from exc
    merged["volumes"] = dict(sorted(merged["volumes"].items()))
    header = (f"# Rendered by Local AI Stack (profile {settings.profile}, {settings.environment}). "
              "Do not edit: run `python start.py render`.\n"
              "# Secrets are ${VARIABLES} that Compose reads from .env.\n")
    body = yaml.safe_dump(merged, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
    files[COMPOSE_FILE] = (header + body).encode()
    return files


def _merge(merged: dict[str, Any], fragment: dict[str, Any], origin: str) -> None:
    for name, spec in (fragment.get("services") or {}).items():
        if name in merged["services"]:
            raise StackError(f"compose/{origin}: service {name} is defined twice")
        spec.setdefault("restart", "unless-stopped")
        spec.setdefault("logging", copy.deepcopy(LOGGING))
        merged["services"][name] = spec
    for name, spec in (fragment.get("volumes") or {}).items():
        merged["volumes"][name] = spec or {}
    for name, spec in (fragment.get("networks") or {}).items():
        merged.setdefault("networks", {})[name] = spec or {}


def check_output_dir(out: Path) -> None:
    """Refuse an output directory we cannot write or that holds someone else's files.

    Tries a real write (permission bits say nothing for root) so that .env is only written
    when the render will succeed too.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output: {out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ConfigError(f"--output: {out} is not empty and was not made by start.py; choose an empty "
                          "or new directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigError(f"--output: cannot write to {out} ({exc.strerror or exc})") from exc


def write_files(files: dict[str, bytes], out: Path) -> list[str]:
    """Write only what changed (keeps unchanged files' inodes for running bind mounts), drop stale files."""
    check_output_dir(out)
    changed: list[str] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("Rendered by Local AI Stack; everything here is regenerated.\n")
        for rel, content in files.items():
            target = out / rel
            if target.is_file() and target.read_bytes() == content:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, content.decode(), mode=0o644)
            changed.append(rel)
        for path in sorted(out.rglob("*"), reverse=True):
            rel = path.relative_to(out).as_posix()
            if path.is_file() and rel != MARKER and rel not in files:
                path.unlink()
                changed.append(rel)
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    except OSError as exc:
        raise StackError(f"cannot write {out}: {exc.strerror}") from exc
    return changed
