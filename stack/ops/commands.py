"""The everyday commands on a stack that exists: down, status, logs, restart, accounts, models, rotate, backup."""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from stack.config.settings import Settings
from stack.engines.base import ContainerState
from stack.engines.compose import Compose
from stack.engines.errors import NetworkInUse
from stack.errors import StackError
from stack.ops import accounts as account_rows
from stack.ops import backup as bk
from stack.ops import ollama
from stack.ops.events import Ui
from stack.ops.project import (
    applied_settings,
    build_dir,
    compose_for,
    existing_settings,
    known_service,
    projects_from,
    rendered,
    service_arg,
)
from stack.ops.rotate import check_rotatable, rotate
from stack.ops.up import ollama_client, up
from stack.render.files import COMPOSE_FILE
from stack.services import Service, enabled_services


def down(root: Path, ui: Ui, volumes: bool = False, quiet: bool = False) -> None:
    """Stop what is running from this folder: the project build/ was rendered for, and any other
    project whose containers came from the same compose file (PROJECT_NAME edited since)."""
    settings = applied_settings(root, ui)
    compose_file = build_dir(root) / COMPOSE_FILE
    if settings["TARGET"] != "compose":
        compose_for(settings).down(volumes=volumes)
        if not quiet:
            ui.say(f"Stack {settings.project} stopped." + (" All data volumes deleted." if volumes else
                                                           " Data volumes kept."))
        return
    projects = [settings.project] if rendered(settings) else []
    projects += [p for p in projects_from(compose_file) if p not in projects]
    for project in projects:
        compose = Compose(project, compose_file, settings.env_path)
        for attempt in range(3):
            try:
                compose.down(volumes=volumes)
                break
            except NetworkInUse:
                # Docker Engine can report the network still busy for a moment after its containers are gone.
                if attempt == 2:
                    raise
                time.sleep(2)
    if not quiet:
        ui.say(f"Stack {settings.project} stopped." + (" All data volumes deleted." if volumes else
                                                       " Data volumes kept."))


def accounts(root: Path) -> list[account_rows.Account]:
    return account_rows.accounts(existing_settings(root))


def status(root: Path, ui: Ui) -> tuple[Settings, list[tuple[Service, ContainerState | None]]]:
    """Each enabled service with its container's state (None: not created); [] when nothing exists."""
    settings = applied_settings(root, ui)
    states = compose_for(settings).states() if rendered(settings) else {}
    if not states:
        return settings, []
    return settings, [(service, states.get(service.name)) for service in enabled_services(settings)]


def logs(root: Path, service: str | None, ui: Ui, follow: bool = False, tail: int = 200) -> None:
    known_service(service)
    settings = applied_settings(root, ui)
    code = compose_for(settings).logs(*service_arg(settings, service), tail=tail, follow=follow)
    if code not in (0, 130):
        raise StackError(f"docker compose logs exited with {code}")


def restart(root: Path, service: str | None) -> None:
    known_service(service)
    settings = existing_settings(root)
    compose_for(settings).restart(*service_arg(settings, service))


def models_client(root: Path, ui: Ui) -> ollama.OllamaClient | ollama.ContainerOllama:
    settings = applied_settings(root, ui)
    return ollama_client(settings, compose_for(settings))


def rotate_secrets(root: Path, keys: Sequence[str], ui: Ui) -> dict[str, str]:
    """Rotate secrets; if the stack is running, bring it up again once so services pick them up."""
    for key in keys:
        check_rotatable(key)
    settings = existing_settings(root)
    compose = compose_for(settings)
    changed = rotate(root, keys, compose)
    if compose.states():
        up(root, {}, ui, quiet=True, pull_models=False)
    return changed


def backup(root: Path, target: Path | None, ui: Ui) -> Path:
    settings = existing_settings(root)
    path = bk.create(settings, compose_for(settings), bk.read_compose(build_dir(root)), target or root / "backups")
    ui.say(f"Backup written to {path} (mode 0600). It contains .env: the keys that decrypt your data. "
           "Keep it as safe as the server.")
    return path
