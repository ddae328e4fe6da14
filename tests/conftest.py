"""Shared fixtures: a fresh copy of the product in a temp dir, and a way to run start.py in it."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("start.py", "stack", "compose", "templates", "Caddyfile.j2", ".env.example", "requirements.txt")
PUBLIC_ENV = {
    "WEBUI_HOSTNAME": "chat.example.com",
    "N8N_HOSTNAME": "n8n.example.com",
    "SUPABASE_HOSTNAME": "supabase.example.com",
    "LETSENCRYPT_EMAIL": "admin@example.com",
}


def copy_product(dest: Path) -> Path:
    """A clean checkout of the product (what a user clones), without .env or build/."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PRODUCT:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def run_start(project: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python start.py ARGS` in `project` with this interpreter (its venv has the requirements)."""
    full_env = {**os.environ, "LOCALAI_NO_VENV": "1", **(env or {})}
    started = time.monotonic()
    try:
        return subprocess.run([sys.executable, "start.py", *args], cwd=project, env=full_env, text=True,
                              capture_output=True, timeout=timeout, input=input_text)
    finally:
        log_start_run(args, time.monotonic() - started)


def read_env_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v or "" for k, v in dotenv_values(path).items()}


def append_env(project: Path, values: dict[str, str]) -> None:
    """Set keys in the project's .env (creating it from the example first if needed)."""
    env = project / ".env"
    if not env.exists():
        shutil.copy2(project / ".env.example", env)
    text = env.read_text()
    lines = [line for line in text.splitlines() if line.split("=", 1)[0] not in values]
    lines += [f"{k}={v}" for k, v in values.items()]
    env.write_text("\n".join(lines) + "\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_product(tmp_path / "stack")


# --- no silent skips in CI ----------------------------------------------------------------------
# With CI=true a skipped test fails, unless tests/allowed_skips.txt names it with a reason: a
# fresh machine must run everything, so a missing tool shows up as a failure, not a green run.
ALLOWED_SKIPS_FILE = REPO / "tests" / "allowed_skips.txt"


def allowed_skips() -> dict[str, str]:
    """node id -> reason, from tests/allowed_skips.txt (`<node id>  # <reason>` per line)."""
    allowed: dict[str, str] = {}
    if ALLOWED_SKIPS_FILE.exists():
        for line in ALLOWED_SKIPS_FILE.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                node, _, reason = line.partition("#")
                if not reason.strip():
                    raise pytest.UsageError(f"{ALLOWED_SKIPS_FILE.name}: {node.strip()} has no reason")
                allowed[node.strip()] = reason.strip()
    return allowed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() != "true" or not report.skipped:
        return
    if hasattr(report, "wasxfail") or item.nodeid in allowed_skips():
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"skipped under CI=true and not in tests/allowed_skips.txt: {reason}")


# --- the modules on the shared e2e stacks run last -----------------------------------------------
def _shared_last(item: pytest.Item) -> int:
    """0: the rest; 1: modules on the shared private stack; 2: those that also use the public one."""
    marker = item.get_closest_marker("shared_stack")
    return 0 if marker is None else 2 if "public" in marker.args else 1


@pytest.hookimpl(trylast=True)  # after pytest's own grouping of parametrized module fixtures
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules marked shared_stack run last (the public stack's users at the very end): a shared
    stack is made by the first of its modules and removed at the end of the session, right after the
    last, instead of idling beside every other module's stack (its healthchecks alone take CPU).
    Here, not in tests/e2e/conftest.py: that one adds the e2e marker first, before `-m` looks."""
    items.sort(key=_shared_last)  # stable: the order within each group stays


# --- where the time went --------------------------------------------------------------------------
# Printed at the end of every run: the image builds of this run (tests/images/build.py appends each
# step to BUILD_TIMES) and each test module's total (setup, call and teardown of its tests, so a
# module-scoped stack counts where it is started). tests/run.sh sets LOCALAI_RUN_STARTED, so builds
# made by setup_machine.sh before pytest started count too.
BUILD_TIMES = Path(os.environ.get("LOCALAI_BUILD_TIMES") or Path(tempfile.gettempdir()) / "localai-build-times.tsv")
# Every start.py run of the tests, appended by each process (xdist workers too): the summary's table
# of which commands the e2e time went to, and the slowest runs with their test.
START_TIMES = Path(os.environ.get("LOCALAI_START_TIMES") or Path(tempfile.gettempdir()) / "localai-start-times.tsv")
OPTIONS_WITH_VALUE = {"--profile", "-p", "--environment", "-e", "--timeout", "--output"}
COMMAND_GROUPS = {"secrets", "supabase", "models", "images"}
SESSION_STARTED = time.time()
TIME_ROWS = 12
_module_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    module = report.nodeid.split("::", 1)[0]
    _module_seconds[module] = _module_seconds.get(module, 0.0) + report.duration


def start_command(args: tuple[str, ...] | list[str]) -> str:
    """The command a start.py argv runs ("secrets rotate", "up", ...): options and arguments left out."""
    words: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg in OPTIONS_WITH_VALUE:
            next(rest, None)
        elif not arg.startswith("-"):
            words.append(arg)
            if words[0] not in COMMAND_GROUPS or len(words) == 2:
                break
    return " ".join(words) or "up"


def log_start_run(args: tuple[str, ...], seconds: float) -> None:
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    with contextlib.suppress(OSError), START_TIMES.open("a") as times:
        times.write(f"{time.time():.0f}\t{seconds:.1f}\t{start_command(args)}\t{test}\n")


def start_times(since: float) -> list[tuple[str, str, float]]:
    """(command, test, seconds) of the start.py runs logged since `since`."""
    rows = []
    for line in START_TIMES.read_text().splitlines() if START_TIMES.is_file() else []:
        fields = line.split("\t")
        if len(fields) == 4 and float(fields[0]) >= since:
            rows.append((fields[2], fields[3], float(fields[1])))
    return rows


def build_times(since: float) -> dict[str, tuple[str, float]]:
    """image -> (outcome, seconds) of the build steps logged since `since`; a rebuild adds up."""
    steps: dict[str, tuple[str, float]] = {}
    lines = BUILD_TIMES.read_text().splitlines() if BUILD_TIMES.is_file() else []
    for line in lines:
        fields = line.split("\t")
        if len(fields) != 4 or float(fields[0]) < since:
            continue
        outcome, seconds = steps.get(fields[1], ("cached", 0.0))
        if fields[2] != "cached":
            outcome = fields[2]
        steps[fields[1]] = (outcome, seconds + float(fields[3]))
    return steps


def _time_rows(rows: list[tuple[str, str, float]]) -> list[str]:
    """The slowest rows first; the rest summed up in one line."""
    rows = sorted(rows, key=lambda row: -row[2])
    lines = [f"  {name:<48} {what:<7} {seconds:8.1f}s" for name, what, seconds in rows[:TIME_ROWS]]
    if len(rows) > TIME_ROWS:
        rest = rows[TIME_ROWS:]
        lines.append(f"  {f'({len(rest)} more)':<48} {'':<7} {sum(r[2] for r in rest):8.1f}s")
    return lines


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    since = float(os.environ.get("LOCALAI_RUN_STARTED") or SESSION_STARTED)
    builds = build_times(since)
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "where the time went")
    # LOCALAI_TIME_BUILDS=0: tests/run.sh's unit pass, which runs while the images are still being built;
    # the end-to-end pass after it lists the builds.
    if os.environ.get("LOCALAI_TIME_BUILDS") != "0":
        built = sum(s for o, s in builds.values() if o != "cached")
        write(f"image builds: {sum(o != 'cached' for o, _ in builds.values())} built or failed ({built:.1f}s), "
              f"{sum(o == 'cached' for o, _ in builds.values())} cached")
        for line in _time_rows([(name, o, s) for name, (o, s) in builds.items() if o != "cached"]):
            write(line)
    write(f"test modules: {len(_module_seconds)} ({sum(_module_seconds.values()):.1f}s)")
    for line in _time_rows([(module, "", seconds) for module, seconds in _module_seconds.items()]):
        write(line)
    runs = start_times(since)
    if runs:
        write(f"start.py runs: {len(runs)} ({sum(r[2] for r in runs):.1f}s), by command (runs, seconds):")
        commands: dict[str, list[float]] = {}
        for command, _, seconds in runs:
            commands.setdefault(command, []).append(seconds)
        for line in _time_rows([(c, str(len(t)), sum(t)) for c, t in commands.items()]):
            write(line)
        write("slowest start.py runs:")
        for line in _time_rows([(test[-48:], command[:7], seconds) for command, test, seconds in runs])[:TIME_ROWS]:
            write(line)
