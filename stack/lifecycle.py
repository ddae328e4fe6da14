"""The stack's lifecycle: render, up (and wait until ready), down, status, logs, restart."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from stack import dbstate, n8n_setup, ollama, pgmove, pgupgrade, runner, supabase_check, webui_setup
from stack.compose import Compose, check_docker
from stack.config import prepare
from stack.envfile import EnvFile, write_atomic
from stack.errors import ConfigError, StackError
from stack.health import Readiness, check_all
from stack.paths import BUILD_DIR_NAME
from stack.render.files import COMPOSE_FILE, check_output_dir, render_files, write_files
from stack.secrets import check_public_strength
from stack.services import Service, by_name, check_settings, enabled_services, names, ports
from stack.settings import Settings, build

POLL_SECONDS = 1.0
# Piped output (CI, logs) gets a wide console so URLs are never cut.
console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 200)
progress_console = Console(stderr=True, highlight=False)


@dataclass
class RenderResult:
    settings: Settings
    changed: list[str]
    env_written: bool


@dataclass
class UpReport:
    settings: Settings
    readiness: dict[str, Readiness]
    seconds_total: float = 0.0
    seconds_control_plane: float = 0.0
    seconds_compose_up: float = 0.0
    seconds_waiting: float = 0.0
    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    pulls: ollama.PullResult | None = None


def render_stack(root: Path, overrides: dict[str, str], out: Path | None = None) -> RenderResult:
    """Validate everything in memory first; only then write .env and the output directory."""
    out = out or build_dir(root)
    prepared = prepare(root, overrides)
    if prepared.settings.public:
        check_public_strength(prepared.settings.values)
    files = render_files(prepared.settings, root)
    check_output_dir(out)
    env_written = prepared.commit()
    changed = write_files(files, out)
    return RenderResult(prepared.settings, changed, env_written)


def check_ports_free(settings: Settings, compose: Compose) -> None:
    """Fail before anything starts if another program holds a port we must publish."""
    ours: set[int] = set()
    for state in compose.states().values():
        for publisher in state.publishers:
            if publisher.get("PublishedPort"):
                ours.add(int(publisher["PublishedPort"]))  # type: ignore[call-overload]
    for published in ports.taken(settings, ours):
        raise StackError(f"port {published.port} ({published.source}) is already in use by another program; "
                         "nothing was started",
                         hint=f"stop that program or choose another port for {published.source} in .env"
                         if published.setting else "stop the program that holds it")


def build_dir(root: Path) -> Path:
    return root / BUILD_DIR_NAME


def compose_for(settings: Settings) -> Compose:
    return Compose(settings.project, build_dir(settings.root) / COMPOSE_FILE, settings.env_path)


def existing_settings(root: Path) -> Settings:
    """Settings of a stack that was set up before; commands like down/status never create one."""
    if not (root / ".env").exists():
        raise ConfigError("no .env here: the stack was never started from this folder (run `python start.py`)")
    return render_stack(root, {}).settings


def _progress_table(services: list[Service], readiness: dict[str, Readiness], elapsed: float) -> Table:
    table = Table(title=f"Starting Local AI Stack ({elapsed:.0f}s)", title_justify="left")
    table.add_column("Service")
    table.add_column("Status")
    for service in services:
        r = readiness.get(service.name)
        mark = "[green]ready[/green]" if r and r.ready else f"[yellow]{r.detail if r else 'waiting'}[/yellow]"
        table.add_row(service.title, mark)
    return table


def wait_until_ready(settings: Settings, compose: Compose, proc: subprocess.Popen[str] | None,
                     timeout: float, report: UpReport) -> None:
    """Poll every service until all are ready, Compose fails, or the deadline passes."""
    services = enabled_services(settings)
    start = time.monotonic()
    deadline = start + timeout
    readiness: dict[str, Readiness] = {}
    compose_stderr = ""
    last_seen: dict[str, str] = {}
    interactive = sys.stderr.isatty()
    live = Live(_progress_table(services, readiness, 0), console=progress_console, refresh_per_second=4,
                transient=True) if interactive else None
    if live:
        live.start()
    try:
        while True:
            if proc is not None and proc.poll() is not None:
                _, compose_stderr = proc.communicate()
                report.seconds_compose_up = time.monotonic() - start
                if proc.returncode != 0:
                    raise compose.failed(proc, compose_stderr)
                proc = None
            readiness = check_all(services, settings, compose.states())
            elapsed = time.monotonic() - start
            for name, r in readiness.items():
                label = "ready" if r.ready else r.detail
                if last_seen.get(name) != label:
                    last_seen[name] = label
                    report.timeline.append((round(elapsed, 2), name, label))
                    if not interactive:
                        print(f"[{elapsed:6.1f}s] {by_name(name).title}: {label}", file=sys.stderr, flush=True)
            if live:
                live.update(_progress_table(services, readiness, elapsed))
            if proc is None and all(r.ready for r in readiness.values()):
                report.readiness = readiness
                return
            if time.monotonic() >= deadline:
                if proc is not None:
                    proc.terminate()
                    proc.communicate()
                raise _not_ready_error(compose, readiness, timeout)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=POLL_SECONDS)
            else:
                time.sleep(POLL_SECONDS)
    finally:
        if live:
            live.stop()
        report.seconds_waiting = time.monotonic() - start


def _not_ready_error(compose: Compose, readiness: dict[str, Readiness], timeout: float) -> StackError:
    """Name the services that are failing first; those not even created are waiting on them."""
    waiting = [r for r in readiness.values() if not r.ready]
    failing = [r for r in waiting if r.detail != "not created yet"] or waiting
    blocked = [r.service for r in waiting if r not in failing]
    message = f"not ready after {timeout:.0f}s: " + ", ".join(f"{r.service} ({r.detail})" for r in failing)
    if blocked:
        message += f"; not started yet, waiting on those: {', '.join(blocked)}"
    logs = "\n".join(f"--- last log lines of {r.service} ---\n{compose.logs_tail(r.service, 20)}"
                     for r in failing[:3])
    return StackError(message, stderr=logs,
                      hint=f"see `python start.py logs {failing[0].service}`; "
                           "`python start.py status` shows each service")


def url_table(settings: Settings) -> Table:
    table = Table(title=f"Local AI Stack is ready ({settings.profile}, {settings.environment})",
                  title_justify="left")
    table.add_column("Service")
    table.add_column("Open", no_wrap=True)
    table.add_column("Next step")
    for service in enabled_services(settings):
        url = service.link(settings)
        if not url:
            continue
        table.add_row(service.title, url, service.note.format_map(settings.values))
    if settings.profile == "none":
        table.add_row("Ollama (host)", settings["OLLAMA_HOST_URL"], "runs on this machine, outside the stack")
    return table


def ensure_images(settings: Settings, compose: Compose) -> None:
    """Pull missing images first, with Compose's own progress, so downloads never eat the readiness deadline."""
    import yaml

    from stack import runner

    config = yaml.safe_load((build_dir(settings.root) / COMPOSE_FILE).read_text())
    images = sorted({str(spec["image"]) for spec in config["services"].values()})
    if runner.run(["docker", "image", "inspect", *images], check=False, timeout=60).returncode == 0:
        return
    progress_console.print("Downloading the pinned images that are not here yet (the first run pulls several GB)...")
    output: list[str] = []
    if compose.stream("pull", "--policy", "missing", keep=output) != 0:
        missing = [ref for ref in images
                   if runner.run(["docker", "image", "inspect", ref], check=False, timeout=60).returncode != 0]
        raise StackError(pull_failure(settings, missing, output),
                         hint="check the tag and the network, or point the *_IMAGE settings in .env at a registry "
                              "mirror you can reach")


def pull_failure(settings: Settings, missing: list[str], output: list[str]) -> str:
    """One line naming each image that could not be pulled, the setting that pins it, and why."""
    if not missing:
        return "pulling the images failed"
    keys: dict[str, list[str]] = {}
    for key, value in settings.values.items():
        if key.endswith("_IMAGE"):
            keys.setdefault(value, []).append(key)
    named = ", ".join(f"{ref} ({'/'.join(keys[ref])})" if ref in keys else ref for ref in missing)
    reasons = [line for line in output if missing[0] in line and "rror" in line]
    reason = reasons[-1].strip().removeprefix("Error response from daemon: ") if reasons else ""
    return f"could not pull {named}" + (f": {reason}" if reason else "")


def _brief_doctor(settings: Settings) -> None:
    """Before `up`: show doctor's warnings and problems about GPU, disk and memory in one line each."""
    from stack.doctor import SystemProbe, run_checks

    for finding in run_checks(settings, SystemProbe()):
        if finding.topic == "context":  # the context window Ollama gets, always shown
            progress_console.print(f"Ollama context: {finding.message}")
        elif finding.level != "ok" and finding.topic in ("GPU", "profile", "disk", "RAM"):
            progress_console.print(f"[yellow]{finding.level}[/yellow]: {finding.message}"
                                   + (f" - {finding.fix}" if finding.fix else ""))


def up(root: Path, overrides: dict[str, str], timeout: float = 900, quiet: bool = False,
       pull_models: bool = True) -> UpReport:
    t0 = time.monotonic()
    check_docker()
    rendered = render_stack(root, overrides)
    settings = rendered.settings
    _brief_doctor(settings)
    compose = compose_for(settings)
    dbstate.check_unchanged(settings)
    check_ports_free(settings, compose)
    report = UpReport(settings=settings, readiness={})
    report.seconds_control_plane = time.monotonic() - t0
    ensure_images(settings, compose)
    pgupgrade.check_major(settings)
    proc = compose.start_up()
    wait_until_ready(settings, compose, proc, timeout, report)
    dbstate.record(settings)
    prove_supabase_keys(settings, compose)
    try:
        for done in n8n_setup.sync(settings, compose, build_dir(root)):
            progress_console.print(f"n8n: {done}")
    except StackError as exc:
        progress_console.print(f"[yellow]warning:[/yellow] {exc}")
    try:
        done = webui_setup.ensure_pipe(settings, compose, build_dir(root))
        if done.summary():
            progress_console.print(done.summary())
    except StackError as exc:
        progress_console.print(f"[yellow]warning:[/yellow] {exc}" + (f" ({exc.hint})" if exc.hint else ""))
    if pull_models and settings.models:
        report.pulls = ollama.pull_missing(ollama_client(settings, compose), settings.models)
        ollama.report(report.pulls)
    report.seconds_total = time.monotonic() - t0
    if not quiet:
        console.print(url_table(settings))
    return report


def prove_supabase_keys(settings: Settings, compose: Compose) -> list[supabase_check.KeyCheck]:
    """supabase-py through the gateway users reach; with Caddy's internal CA (no public DNS name,
    no trusted certificate) at Kong itself."""
    if settings.public and settings["CADDY_TLS"] == "internal":
        kong = compose.states().get("kong")
        if not kong or not kong.container_id:
            raise StackError("the Supabase gateway (kong) is not running")
        return supabase_check.require_keys_work(settings, supabase_check.direct_gateway_url(kong.container_id))
    return supabase_check.require_keys_work(settings)


def down(root: Path, volumes: bool = False, quiet: bool = False) -> None:
    settings = existing_settings(root)
    args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    compose = compose_for(settings)
    for attempt in range(3):
        try:
            compose.run(*args, timeout=600)
            break
        except StackError as exc:
            # Docker Engine can report the network still busy for a moment after its containers are gone.
            if "active endpoints" not in exc.stderr or attempt == 2:
                raise
            time.sleep(2)
    if not quiet:
        console.print(f"Stack {settings.project} stopped." + (" All data volumes deleted." if volumes else
                                                              " Data volumes kept."))


def accounts(root: Path) -> None:
    from stack.accounts import accounts as rows

    settings = existing_settings(root)
    table = Table(title="Logins created by start.py (kept in .env)", title_justify="left")
    for column in ("Service", "Account", "Open", "User", "Password"):
        table.add_column(column, no_wrap=column != "Service")
    for row in rows(settings):
        table.add_row(row.service, row.role, row.url, row.login, row.password)
    console.print(table)


def status(root: Path) -> dict[str, str]:
    settings = existing_settings(root)
    states = compose_for(settings).states()
    if not states:
        console.print(f"Stack {settings.project} is stopped (no containers).")
        return {}
    table = Table(title=f"Local AI Stack ({settings.profile}, {settings.environment})", title_justify="left")
    for column in ("Service", "State", "Health", "URL"):
        table.add_column(column)
    result: dict[str, str] = {}
    for service in enabled_services(settings):
        state = states.get(service.name)
        result[service.name] = state.state if state else "missing"
        table.add_row(service.name, state.state if state else "not created",
                      (state.health or "-") if state else "-", service.user_url(settings))
    console.print(table)
    return result


def _service_arg(settings: Settings, service: str | None) -> list[str]:
    if service is None:
        return []
    names = [s.name for s in enabled_services(settings)]
    if service not in names:
        raise ConfigError(f"unknown service '{service}'; one of: {', '.join(names)}")
    return [service]


def _known_service(service: str | None) -> None:
    if service is not None and service not in names():
        raise ConfigError(f"unknown service '{service}'; one of: {', '.join(names())}")


def logs(root: Path, service: str | None, follow: bool = False, tail: int = 200) -> None:
    _known_service(service)
    settings = existing_settings(root)
    args = ["logs", "--no-color", "--tail", str(tail)] + (["--follow"] if follow else [])
    code = compose_for(settings).stream(*args, *_service_arg(settings, service))
    if code not in (0, 130):
        raise StackError(f"docker compose logs exited with {code}")


def restart(root: Path, service: str | None) -> None:
    _known_service(service)
    settings = existing_settings(root)
    compose_for(settings).run("restart", *_service_arg(settings, service), timeout=600)
    console.print(f"Restarted {service or 'all services'}.")


def ollama_client(settings: Settings, compose: Compose) -> ollama.OllamaClient | ollama.ContainerOllama:
    """HTTP to the published (or host's) Ollama; in public mode its CLI inside the container."""
    if settings.public and settings.profile != "none":
        return ollama.ContainerOllama(compose)
    return ollama.OllamaClient(ollama.host_url(settings))


def models_client(root: Path) -> ollama.OllamaClient | ollama.ContainerOllama:
    settings = existing_settings(root)
    return ollama_client(settings, compose_for(settings))


def rotate_secret(root: Path, key: str) -> dict[str, str]:
    """Rotate one secret; if the stack is running, bring it up again so services pick it up."""
    from stack.rotate import check_rotatable, rotate

    check_rotatable(key)
    settings = existing_settings(root)
    compose = compose_for(settings)
    changed = rotate(root, key, compose)
    if compose.states():
        up(root, {}, quiet=True, pull_models=False)
    return changed


def backup(root: Path, target: Path | None) -> Path:
    from stack import backup as bk

    settings = existing_settings(root)
    path = bk.create(settings, compose_for(settings), bk.read_compose(build_dir(root)),
                     target or root / "backups")
    console.print(f"Backup written to {path} (mode 0600). It contains .env: the keys that decrypt your data. "
                  "Keep it as safe as the server.")
    return path


def _wait_db(compose: Compose, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = compose.states().get("db")
        if state and state.state == "running" and state.health == "healthy":
            return
        time.sleep(POLL_SECONDS)
    raise StackError(f"the database did not become healthy within {timeout:.0f}s during restore")


def _archived_settings(root: Path, path: Path) -> Settings:
    """Validate the archive's .env in memory, as the settings the restored data belongs with."""
    from stack import backup as bk

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


def restore(root: Path, path: Path, yes: bool) -> None:
    """Bring an archive back here: onto this stack, or onto a fresh folder with no .env yet.

    The archive's .env and its database travel together: the database state is recorded from the
    archive's secrets, so a restore across a rotation or onto another machine starts cleanly.
    """
    from stack import backup as bk

    bk.verify(path)  # a bad archive is refused before anything is read or written
    archived = _archived_settings(root, path)
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
    up(root, {}, quiet=False, pull_models=False)


def _project_volumes(project: str) -> list[str]:
    result = runner.run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                        check=False, timeout=30)
    return result.stdout.split() if result.returncode == 0 else []


def update(root: Path, take_backup: bool = True, timeout: float = 900) -> Path | None:
    """Fetch the pinned images, refuse early if the database cannot be moved, back up, move the
    database to a new Postgres major version if the pins changed it, recreate what changed."""
    settings = existing_settings(root)
    compose = compose_for(settings)
    ensure_images(settings, compose)  # with progress, and a missing tag named, before anything changes
    move = pgupgrade.plan(settings, dbstate.recorded_db_image(settings), root / "backups")
    archive = None
    running = any(s.state == "running" for s in compose.states().values())
    if take_backup and running:
        archive = backup(root, None)
    elif take_backup:
        progress_console.print("The stack is not running: no backup taken " + (
            "(the database's old volume is kept by the move)." if move else "(nothing is changing data)."))
    if move:
        def say(text: str) -> None:
            progress_console.print(text, soft_wrap=True, markup=False, highlight=False)

        for note in pgmove.migrate(move, settings, compose, root / "backups", say):
            say(f"  note: the new image's own setup added rows: {note}")
    try:
        up(root, {}, timeout=timeout)
    finally:
        if move:  # the way back is shown even when a service then fails to come up
            console.print(pgupgrade.rollback_text(move), soft_wrap=True, markup=False, highlight=False)
    if archive:
        console.print(f"Roll back: put the previous *_IMAGE pins (or project version) back, then "
                      f"`python start.py restore {archive} --yes`.")
    return archive
