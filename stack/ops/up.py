"""`up`: an explicit list of steps, run in order. The order is the contract, stated here:

 1. docker      Docker and Compose answer (before anything is written)
 2. database    the database volume still belongs with .env's secrets (dbstate), checked before
                anything is written: a refused `up` leaves build/ as what runs
 3. render      .env and flags validated in memory, then .env and build/ written
 4. doctor      doctor's GPU/disk/RAM warnings and the Ollama context, one line each
 5. ports       every port we publish is free (or already ours): nothing starts otherwise
 6. images      missing images pulled first, so downloads never eat the readiness deadline
 7. postgres    a Postgres major-version change is refused before Postgres sees the volume
 8. start       `up -d` in the background ...
 9. ready       ... while every service's own probe is polled, until all answer
10. record      the database state is recorded only once the database really started
11. keys        the Supabase API keys are proven through the gateway users reach
12. n8n         after-ready: our credentials and the starter workflow (a failure warns)
13. webui       after-ready: the n8n agent pipe in Open WebUI (a failure warns)
14. models      OLLAMA_MODELS pulled (unless --no-pull)

Steps 1-5 run before anything starts; their time is the control plane's own.
"""
from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stack.config.settings import Settings
from stack.config.store import prepare
from stack.engines.base import Engine
from stack.engines.compose import check_docker
from stack.engines.swarm import check_swarm
from stack.errors import ConfigError, StackError
from stack.ops import dbstate, n8n_setup, ollama, pgupgrade, supabase_check, webui_setup
from stack.ops.events import Ui
from stack.ops.preflight import brief_doctor, check_ports_free
from stack.ops.project import build_dir, compose_for, render_stack
from stack.ops.pulls import ensure_images
from stack.ops.readiness import UpReport, wait_until_ready


@dataclass
class UpRun:
    """What the steps share: the request, and what earlier steps found."""

    root: Path
    overrides: dict[str, str]
    timeout: float
    pull_models: bool
    ui: Ui
    t0: float = field(default_factory=time.monotonic)
    settings: Settings = field(init=False)
    compose: Engine = field(init=False)
    report: UpReport = field(init=False)
    proc: subprocess.Popen[str] | None = None


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[UpRun], None]


def _docker(run: UpRun) -> None:
    check_docker()
    settings = prepare(run.root, run.overrides).settings
    if settings["TARGET"] == "swarm":
        if not settings.public and not settings.as_bool("SWARM_PRIVATE_ON_ALL_INTERFACES"):
            raise ConfigError("a private stack on Swarm would listen on every interface of the node (Swarm "
                              "publishes no port on 127.0.0.1 only); nothing was started",
                              hint="use ENVIRONMENT=public (only Caddy on 80/443, with HTTPS), the compose "
                              "target, or set SWARM_PRIVATE_ON_ALL_INTERFACES=true in .env if a firewall "
                              "keeps this node's ports private")
        check_swarm()


def _render(run: UpRun) -> None:
    run.settings = render_stack(run.root, run.overrides).settings
    run.compose = compose_for(run.settings)
    run.report = UpReport(settings=run.settings, readiness={})
    if run.settings["TARGET"] == "swarm" and not run.settings.public:
        run.ui.warn("on Swarm every published port listens on all of the node's interfaces "
                    "(SWARM_PRIVATE_ON_ALL_INTERFACES=true): keep the node behind a firewall")


def _ports(run: UpRun) -> None:
    check_ports_free(run.settings, run.compose)
    run.report.seconds_control_plane = time.monotonic() - run.t0


def _n8n(run: UpRun) -> None:
    try:
        for done in n8n_setup.sync(run.settings, run.compose, build_dir(run.root)):
            run.ui.note(f"n8n: {done}")
    except StackError as exc:
        run.ui.warn(f"{exc}")


def _webui(run: UpRun) -> None:
    try:
        done = webui_setup.ensure_pipe(run.settings, run.compose, build_dir(run.root))
        if done.summary():
            run.ui.note(done.summary())
    except StackError as exc:
        run.ui.warn(f"{exc}" + (f" ({exc.hint})" if exc.hint else ""))


def _models(run: UpRun) -> None:
    if run.pull_models and run.settings.models:
        run.report.pulls = ollama.pull_missing(ollama_client(run.settings, run.compose), run.settings.models,
                                              run.ui.downloads())
        run.ui.pulls(run.report.pulls)


def _start(run: UpRun) -> None:
    run.proc = run.compose.up()


def _keys(run: UpRun) -> None:
    prove_supabase_keys(run.settings, run.compose)


STEPS: tuple[Step, ...] = (
    Step("docker", _docker),
    Step("database", lambda run: dbstate.check_unchanged(prepare(run.root, run.overrides).settings)),
    Step("render", _render),
    Step("doctor", lambda run: brief_doctor(run.settings, run.ui)),
    Step("ports", _ports),
    Step("images", lambda run: ensure_images(run.settings, run.compose, run.ui)),
    Step("postgres", lambda run: pgupgrade.check_major(run.settings)),
    Step("start", _start),
    Step("ready", lambda run: wait_until_ready(run.settings, run.compose, run.proc, run.timeout, run.report, run.ui)),
    Step("record", lambda run: dbstate.record(run.settings)),
    Step("keys", _keys),
    Step("n8n", _n8n),
    Step("webui", _webui),
    Step("models", _models),
)

# The after-ready step each service record names (stack/services: Service.after_ready) -> the step
# above that does it. The order stays the one stated at the top of this module.
AFTER_READY: dict[str, str] = {"supabase.prove_keys": "keys", "n8n.sync": "n8n", "open_webui.ensure_pipe": "webui",
                               "ollama.pull_models": "models"}


def up(root: Path, overrides: dict[str, str], ui: Ui, timeout: float = 900, quiet: bool = False,
       pull_models: bool = True) -> UpReport:
    run = UpRun(root, overrides, timeout, pull_models, ui)
    for step in STEPS:
        step.run(run)
    run.report.seconds_total = time.monotonic() - run.t0
    if not quiet:
        ui.ready(run.settings)
    return run.report


def prove_supabase_keys(settings: Settings, compose: Engine) -> list[supabase_check.KeyCheck]:
    """supabase-py through the gateway users reach; with Caddy's internal CA (no public DNS name,
    no trusted certificate) at Kong itself."""
    if settings.public and settings["CADDY_TLS"] == "internal":
        kong = compose.states().get("kong")
        if not kong or not kong.container_id:
            raise StackError("the Supabase gateway (kong) is not running")
        return supabase_check.require_keys_work(settings, supabase_check.direct_gateway_url(kong.container_id))
    return supabase_check.require_keys_work(settings)


def ollama_client(settings: Settings, compose: Engine) -> ollama.OllamaClient | ollama.ContainerOllama:
    """HTTP to the published (or host's) Ollama; in public mode its CLI inside the container."""
    if settings.public and settings.profile != "none":
        return ollama.ContainerOllama(compose)
    return ollama.OllamaClient(ollama.host_url(settings))
