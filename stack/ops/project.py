"""The stack in this folder: its settings, its rendered files, and the engine that runs it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stack.config.secrets import check_public_strength
from stack.config.settings import Settings
from stack.config.store import APPLIED_FILE, applied, applied_record, prepare
from stack.doctor.advice import suggested_models
from stack.doctor.probes import SystemProbe
from stack.engines import runner
from stack.engines.base import Engine
from stack.engines.compose import Compose
from stack.engines.swarm import Swarm
from stack.errors import ConfigError
from stack.ops.events import Ui
from stack.paths import BUILD_DIR_NAME
from stack.render.files import COMPOSE_FILE, check_output_dir, render_files, write_files
from stack.services import enabled_services, names


@dataclass
class RenderResult:
    settings: Settings
    changed: list[str]
    env_written: bool


def build_dir(root: Path) -> Path:
    return root / BUILD_DIR_NAME


def render_stack(root: Path, overrides: dict[str, str], out: Path | None = None) -> RenderResult:
    """Validate everything in memory first; only then write .env and the output directory."""
    out = out or build_dir(root)
    prepared = prepare(root, overrides, suggest_models=lambda: suggested_models(SystemProbe()))
    if prepared.settings.public:
        check_public_strength(prepared.settings.values)
    files = render_files(prepared.settings, root)
    files[APPLIED_FILE] = applied_record(prepared.settings)
    check_output_dir(out)
    env_written = prepared.commit()
    changed = write_files(files, out)
    return RenderResult(prepared.settings, changed, env_written)


def compose_for(settings: Settings) -> Engine:
    """The engine TARGET names, for this folder's rendered stack (adding a target: one module + a line here)."""
    compose_file = build_dir(settings.root) / COMPOSE_FILE
    if settings["TARGET"] == "swarm":
        return Swarm(settings.project, compose_file, settings.values, gpu=settings.profile.startswith("gpu-"))
    return Compose(settings.project, compose_file, settings.env_path)


def existing_settings(root: Path) -> Settings:
    """Settings of a stack that was set up before, read without writing; refused while .env holds an
    edit not applied yet (acting on it would mix the old stack with the new settings)."""
    return applied(root, build_dir(root)).require_current()


def applied_settings(root: Path, ui: Ui) -> Settings:
    """What the stack was last rendered from, for commands that only look at it or stop it: an edit
    of .env not applied yet (or a typo in it) is reported and does not change their target."""
    state = applied(root, build_dir(root))
    if not state.current:
        ui.warn(state.warning())
    return state.settings


def rendered(settings: Settings) -> bool:
    return (build_dir(settings.root) / COMPOSE_FILE).exists()


def projects_from(compose_file: Path) -> list[str]:
    """Compose projects that have containers made from this folder's compose file (their labels)."""
    result = runner.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project.config_files="
                         f"{compose_file.resolve()}", "--format", '{{.Label "com.docker.compose.project"}}'],
                        check=False, timeout=30)
    return sorted(set(result.stdout.split())) if result.returncode == 0 else []


def service_arg(settings: Settings, service: str | None) -> list[str]:
    """[service] if it runs in this stack, [] for all; a name it does not run is a usage error."""
    if service is None:
        return []
    names = [s.name for s in enabled_services(settings)]
    if service not in names:
        raise ConfigError(f"unknown service '{service}'; one of: {', '.join(names)}")
    return [service]


def known_service(service: str | None) -> None:
    if service is not None and service not in names():
        raise ConfigError(f"unknown service '{service}'; one of: {', '.join(names())}")
