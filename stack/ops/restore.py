"""`restore` and `update`: the two commands that replace what a stack runs on (its data, its images)."""
from __future__ import annotations

import time
from pathlib import Path

from stack.config.envfile import EnvFile, write_atomic
from stack.config.settings import Settings, build
from stack.config.store import load
from stack.engines import runner
from stack.engines.base import Engine
from stack.errors import ConfigError, StackError
from stack.ops import backup as bk
from stack.ops import dbstate, pgfacts, pgmove, pgupgrade
from stack.ops.commands import backup
from stack.ops.events import Ui
from stack.ops.project import compose_for, existing_settings, render_stack
from stack.ops.pulls import ensure_images
from stack.ops.readiness import POLL_SECONDS
from stack.ops.up import up
from stack.services import check_settings


def _wait_db(engine: Engine, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = engine.states().get("db")
        if state and state.state == "running" and state.health == "healthy":
            return
        time.sleep(POLL_SECONDS)
    raise StackError(f"the database did not become healthy within {timeout:.0f}s during restore")


def _archived_settings(root: Path, path: Path) -> Settings:
    """Validate the archive's .env in memory, as the settings the restored data belongs with."""
    text = bk.archived_env(path)
    env_file = EnvFile.parse(text, root / ".env")
    try:
        settings = build(root, env_file.values, {})
        check_settings(settings)
    except ConfigError as exc:
        raise ConfigError(f"backup {path.name}: its .env is not valid ({exc}); nothing was changed") from exc
    missing = [k for k in ("POSTGRES_PASSWORD", "JWT_SECRET", "N8N_ENCRYPTION_KEY") if not settings[k]]
    if missing:
        raise ConfigError(f"backup {path.name}: its .env lacks {', '.join(missing)}; nothing was changed")
    return settings


def restore(root: Path, path: Path, yes: bool, ui: Ui) -> None:
    """Bring an archive back here: onto this stack, or onto a fresh folder with no .env yet.

    The archive's .env and its database travel together: the database state is recorded from the
    archive's secrets, so a restore across a rotation or onto another machine starts cleanly.
    """
    bk.verify(path)  # a bad archive is refused before anything is read or written
    archived = _archived_settings(root, path)
    target = (existing_settings(root) if (root / ".env").exists() else archived)["TARGET"]
    if target == "swarm":
        # Swarm deploys every service at once: the apps would migrate an empty database while the
        # dump loads. The volumes have the same names on both targets, so restore goes through Compose.
        raise ConfigError("restore does not run on Swarm yet (Swarm cannot start the database alone); "
                          "nothing was changed",
                          hint="on the node labelled localai.data=true: `python start.py down`, set "
                          "TARGET=compose in .env, restore, `python start.py down`, set TARGET=swarm, "
                          "`python start.py up`")
    if (root / ".env").exists():
        settings = existing_settings(root)
    else:
        if _project_volumes(archived.project) and not yes:
            raise ConfigError(f"volumes of project {archived.project} exist on this machine and restore "
                              "replaces them; pass --yes")
        write_atomic(root / ".env", bk.archived_env(path), mode=0o600)
        settings = render_stack(root, {}).settings
    bk.restore(path, settings, compose_for(settings), running_ok=yes,
               rerender=lambda: compose_for(render_stack(root, {}).settings), wait_db=_wait_db)
    dbstate.record(existing_settings(root))
    up(root, {}, ui, quiet=False, pull_models=False)


def _project_volumes(project: str) -> list[str]:
    result = runner.run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                        check=False, timeout=30)
    return result.stdout.split() if result.returncode == 0 else []


def update(root: Path, ui: Ui, take_backup: bool = True, timeout: float = 900) -> Path | None:
    """Fetch the pinned images, refuse early if the database cannot be moved, back up, move the
    database to a new Postgres major version if the pins changed it, recreate what changed."""
    load(root)  # an existing stack (with a valid .env) only; update applies .env like `up`
    settings = render_stack(root, {}).settings
    compose = compose_for(settings)
    ensure_images(settings, compose, ui)  # with progress, and a missing tag named, before anything changes
    move = pgupgrade.plan(settings, dbstate.recorded_db_image(settings), root / "backups")
    archive = None
    running = any(s.state == "running" for s in compose.states().values())
    if take_backup and running:
        archive = backup(root, None, ui)
    elif take_backup:
        ui.note("The stack is not running: no backup taken " + (
            "(the database's old volume is kept by the move)." if move else "(nothing is changing data)."))
    if move:
        def say(text: str) -> None:
            ui.note(text, plain=True)

        for note in pgmove.migrate(move, settings, compose, root / "backups", say):
            say(f"  note: the new image's own setup added rows: {note}")
    try:
        up(root, {}, ui, timeout=timeout)
    finally:
        if move:  # the way back is shown even when a service then fails to come up
            ui.say(pgfacts.rollback_text(move), plain=True)
    if archive:
        ui.say(f"Roll back: put the previous *_IMAGE pins (or project version) back, then "
               f"`python start.py restore {archive} --yes`.")
    return archive
