"""The Postgres major-version move that stack/ops/pgupgrade.py planned: dump, keep, restore, verify.

Every step that changes something lives here; stack/ops/pgupgrade.py decides, before any of it, whether
the move is needed and possible (its docstring describes the whole procedure and its sources).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stack.config.settings import Settings
from stack.engines import runner
from stack.engines.compose import Compose
from stack.engines.errors import CommandFailed
from stack.errors import StackError
from stack.ops.pgfacts import (
    CONFIG_PATH,
    DATA_PATH,
    DATABASES_SQL,
    EXTENSIONS_SQL,
    LISTING,
    OBJECTS_SQL,
    PASSWORD_VARS,
    READY_SECONDS,
    ROLES_SQL,
    SUPERUSER,
    TABLES_SQL,
    Facts,
    Plan,
    compare,
    copy_command,
    gone_extensions,
    gone_message,
    psql_argv,
    rollback_text,
    unexpected_errors,
)
from stack.ops.pgupgrade import volume_exists


def _password_env(settings: Settings) -> dict[str, str]:
    """The password reaches containers by variable name only (`-e NAME`): never in argv."""
    return {name: settings["POSTGRES_PASSWORD"] for name in PASSWORD_VARS}


def _env_flags() -> list[str]:
    return [flag for name in PASSWORD_VARS for flag in ("-e", name)]


class Server:
    """A way to run psql against one running server (the old temp container or the compose db)."""

    def __init__(self, argv_prefix: list[str], env: dict[str, str]) -> None:
        self.prefix = argv_prefix
        self.env = env

    def query(self, database: str, sql: str) -> list[str]:
        result = runner.run([*self.prefix, *psql_argv(database, sql)], env=self.env, timeout=3600)
        return [line for line in result.stdout.splitlines() if line]

    def ready(self) -> bool:
        result = runner.run([*self.prefix, "pg_isready", "-h", "localhost", "-U", SUPERUSER], check=False,
                            env=self.env, timeout=30)
        return result.returncode == 0

    def facts(self) -> Facts:
        facts = Facts()
        facts.major = int(self.query("postgres", "SHOW server_version_num")[0]) // 10000
        facts.databases = self.query("postgres", DATABASES_SQL)
        facts.roles = self.query("postgres", ROLES_SQL)
        for database in facts.databases:
            facts.extensions[database] = self.query(database, EXTENSIONS_SQL)
            for line in self.query(database, TABLES_SQL):
                table, _, count = line.rpartition("|")
                facts.rows[f"{database}:{table}"] = int(count)
            facts.objects += [f"{database}:{line}" for line in self.query(database, OBJECTS_SQL)]
        return facts


def _start_old(plan: Plan, settings: Settings) -> str:
    name = f"{plan.project}-pgupgrade-old"
    runner.run(["docker", "rm", "-f", name], check=False, timeout=120)
    runner.run(["docker", "run", "-d", "--name", name, "--network", "none", *_env_flags(),
                "-v", f"{plan.data_volume}:{DATA_PATH}", "-v", f"{plan.config_volume}:{CONFIG_PATH}",
                plan.old_image], env=_password_env(settings), timeout=300)
    return name


def _wait(server: Server, describe: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.ready():
            return
        if not alive():
            break
        time.sleep(1)
    raise StackError(f"{describe} did not become ready within {READY_SECONDS:.0f}s")


def _running(container: str) -> bool:
    out = runner.run(["docker", "inspect", "--format", "{{.State.Running}}", container], check=False, timeout=30)
    return out.stdout.strip() == "true"


def _listing(volume: str, image: str) -> str:
    return runner.run(["docker", "run", "--rm", "--user", "0", "--network", "none", "--entrypoint", "sh",
                       "-v", f"{volume}:/v:ro", image, "-c", LISTING, "listing", "/v"], timeout=1800).stdout.strip()


def _keep_copy(plan: Plan, source: str, target: str) -> None:
    """Copy one volume to its kept name and check the copy file by file (name, type, size, owner, mode)."""
    runner.run(["docker", "volume", "create", "--label", f"localai.project={plan.project}",
                "--label", f"localai.kept-from={source}", "--label", f"localai.postgres-major={plan.volume_major}",
                target], timeout=60)
    runner.run(copy_command(plan.old_image, source, target), timeout=7200)
    if _listing(source, plan.old_image) != _listing(target, plan.old_image):
        raise StackError(f"the copy of volume {source} to {target} does not match the original")


def _wait_compose_db(compose: Compose) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        state = compose.states().get("db")
        if state and state.state == "running" and state.health == "healthy":
            return
        if state and state.state in ("exited", "dead"):
            break
        time.sleep(1)
    raise StackError("the database did not start on the new image", stderr=compose.logs_tail("db", 30))


def _put_back(plan: Plan, compose: Compose) -> None:
    """Undo: the old data goes back into the compose volumes; the kept copy stays."""
    compose.down()
    for kept, volume in ((plan.kept_data, plan.data_volume), (plan.kept_config, plan.config_volume)):
        if not volume_exists(volume):
            runner.run(["docker", "volume", "create", "--label", f"com.docker.compose.project={plan.project}",
                        "--label", f"com.docker.compose.volume={volume.removeprefix(plan.project + '_')}",
                        volume], timeout=60)
        runner.run(copy_command(plan.old_image, kept, volume), timeout=7200)


def _dump_old(plan: Plan, settings: Settings, dump: Path) -> Facts:
    """Serve the old volume with the old image (no network) and dump it with the new image's pg_dumpall."""
    env = _password_env(settings)
    old = _start_old(plan, settings)
    try:
        server = Server(["docker", "exec", old], env)
        _wait(server, f"the Postgres {plan.volume_major} server ({plan.old_image_name})", lambda: _running(old))
        before = server.facts()
        gone = gone_extensions(before, plan.new_major)
        if gone:
            raise StackError(gone_message(gone, plan.volume_major, plan.new_major))
        with dump.open("wb") as out:
            os.chmod(dump, 0o600)
            try:
                runner.pipe(["docker", "run", "--rm", "--network", f"container:{old}", *_env_flags(),
                             "--entrypoint", "pg_dumpall", plan.new_image, "-h", "localhost", "-U", SUPERUSER,
                             "--clean", "--if-exists"], stdout=out, env=env)
            except CommandFailed as exc:
                raise StackError("pg_dumpall of the old database failed", stderr=exc.stderr) from exc
        return before
    finally:
        runner.run(["docker", "stop", "--time", "120", old], check=False, timeout=300)
        runner.run(["docker", "rm", "-f", old], check=False, timeout=120)


def _restore_new(plan: Plan, settings: Settings, compose: Compose, dump: Path, log: Path) -> Facts:
    """A fresh data volume for the new image (its init scripts run), then the dump loaded into it."""
    runner.run(["docker", "volume", "rm", plan.data_volume], timeout=120)
    # The config volume stays (the server includes it); the new image's postgres user must own it,
    # and its config includes conf.d (upgrade-pg17.sh @ 35d648ba, start_pg17).
    runner.run(["docker", "run", "--rm", "--user", "0", "--network", "none", "--entrypoint", "sh",
                "-v", f"{plan.config_volume}:/v", plan.new_image, "-c",
                "mkdir -p /v/conf.d && chown -R postgres:postgres /v"], timeout=600)
    compose.start("db")
    _wait_compose_db(compose)
    with dump.open("rb") as handle, log.open("wb") as errors:
        os.chmod(log, 0o600)
        try:
            compose.exec_binary("db", ["psql", "-X", "-q", "-h", "localhost", "-U", SUPERUSER, "-d", "postgres",
                                       "-o", "/dev/null"], stdin=handle, stdout=subprocess.DEVNULL, stderr=errors)
        except CommandFailed as exc:
            raise StackError(f"loading the dump into Postgres {plan.new_major} failed (see {log})") from exc
    return Server(compose.exec_prefix("db"), _password_env(settings)).facts()


def migrate(plan: Plan, settings: Settings, compose: Compose, work_root: Path,
            say: Callable[[str], None]) -> list[str]:
    """Run the migration planned; returns notes (tables the new image's own setup added rows to)."""
    stay = (f"set SUPABASE_DB_IMAGE={plan.old_image_name} in .env and run `python start.py up` to keep "
            f"Postgres {plan.volume_major}")
    say(f"Moving the database from Postgres {plan.volume_major} to {plan.new_major} (dump with the old server, "
        "restore on the new one); the stack stops meanwhile.")
    compose.down()
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".pg{plan.volume_major}-to-{plan.new_major}-", dir=work_root))
    os.chmod(work, 0o700)
    dump = work / "dumpall.sql"
    try:
        before = _dump_old(plan, settings, dump)
        say(f"  dumped {len(before.databases)} databases, {len(before.roles)} roles, {len(before.rows)} tables; "
            f"keeping the Postgres {plan.volume_major} data as volumes {plan.kept_data} and {plan.kept_config}")
        _keep_copy(plan, plan.data_volume, plan.kept_data)
        _keep_copy(plan, plan.config_volume, plan.kept_config)
    except (StackError, OSError, KeyboardInterrupt) as exc:
        for kept in (plan.kept_data, plan.kept_config):
            runner.run(["docker", "volume", "rm", kept], check=False, timeout=120)
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise StackError(f"cannot move the database to Postgres {plan.new_major}: {exc}; the data was not changed "
                         "and the stack is stopped", stderr=getattr(exc, "stderr", ""), hint=stay) from exc
    try:
        say(f"  starting Postgres {plan.new_major} on a fresh volume (its init scripts run), then restoring ...")
        after = _restore_new(plan, settings, compose, dump, work / "restore.log")
        if after.major != plan.new_major:
            raise StackError(f"the new server reports Postgres {after.major}, not {plan.new_major}")
        lost, grew = compare(before, after)
        if lost:
            raise StackError(f"the restored database lacks {len(lost)} item(s), first: {lost[0]}")
    except (StackError, OSError, KeyboardInterrupt) as exc:
        try:
            _put_back(plan, compose)   # the old data goes back before anything else, even on Ctrl-C
        except StackError as again:
            steps = [line.strip() for line in rollback_text(plan).splitlines()[1:6]]
            raise StackError(f"moving the database to Postgres {plan.new_major} failed ({exc}), and putting the "
                             f"old data back failed too ({again}); the Postgres {plan.volume_major} data is safe in "
                             f"{plan.kept_data} and {plan.kept_config}", hint="put it back: " + "; ".join(steps)
                             ) from exc
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise StackError(f"moving the database to Postgres {plan.new_major} failed: {exc}; the Postgres "
                         f"{plan.volume_major} data was put back (a copy stays in {plan.kept_data})",
                         stderr=getattr(exc, "stderr", ""),
                         hint=f"{stay}; the dump and the restore log are in {work}") from exc
    unexpected = unexpected_errors((work / "restore.log").read_text(errors="replace"))
    if unexpected:
        kept_log = work_root / f"pg{plan.volume_major}-to-{plan.new_major}-{plan.stamp}-restore.log"
        os.replace(work / "restore.log", kept_log)
        say(f"  warning: {len(unexpected)} statement(s) of the dump failed on Postgres {plan.new_major} "
            f"(first: {unexpected[0].removeprefix('ERROR:').strip()}); every table, row, role, view, function, "
            f"policy, trigger and index was checked and is there; the log is {kept_log}")
    shutil.rmtree(work, ignore_errors=True)
    say(f"  verified on Postgres {after.major}: {len(before.databases)} databases, {len(before.roles)} roles, "
        f"{len(before.rows)} tables with all their rows, {len(before.objects)} views, functions, policies, "
        "triggers and indexes")
    return grew
