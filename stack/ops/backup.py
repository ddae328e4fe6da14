"""Backup and restore of everything the stack keeps: every named volume, Postgres and .env.

One tar archive: manifest.json (checksums of every member), env (the .env that holds the keys
that decrypt the data: the archive is written 0600), postgres.sql (pg_dumpall from the running
database, consistent), and volumes/<volume>.tar for every other named volume (`docker cp -a` from
the container that mounts it). Restore verifies every checksum before anything is touched.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from stack.config.envfile import write_atomic
from stack.config.settings import Settings
from stack.engines import runner
from stack.engines.compose import Compose
from stack.engines.errors import CommandFailed
from stack.errors import ConfigError, StackError
from stack.ops import dbstate
from stack.services import database_volume

FORMAT = 1
CHUNK = 1 << 20


@dataclass(frozen=True)
class VolumeMount:
    volume: str       # compose volume key, e.g. n8n_data
    service: str
    path: str         # mount point inside the service's container


def mounts(compose_config: dict[str, object]) -> list[VolumeMount]:
    """Every named volume and one service/path that mounts it (from the rendered compose)."""
    seen: dict[str, VolumeMount] = {}
    services = compose_config.get("services") or {}
    for service, spec in services.items():  # type: ignore[union-attr]
        for entry in spec.get("volumes", []):
            source, _, rest = str(entry).partition(":")
            target = rest.split(":")[0]
            if source and not source.startswith((".", "/")) and source not in seen:
                seen[source] = VolumeMount(source, service, target)
    return sorted(seen.values(), key=lambda m: m.volume)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _container_ids(compose: Compose) -> dict[str, str]:
    return {name: state.container_id for name, state in compose.states().items()}


def create(settings: Settings, compose: Compose, compose_config: dict[str, object], target: Path) -> Path:
    """Write the archive atomically (temp file + rename), mode 0600."""
    states = compose.states()
    db = states.get("db")
    if not db or db.state != "running":
        raise StackError("the database must be running for a consistent backup: start the stack first")
    if target.suffix != ".tar":
        target = target / f"localai-{settings.project}-{time.strftime('%Y%m%d-%H%M%S')}.tar"
    target.parent.mkdir(parents=True, exist_ok=True)
    ids = _container_ids(compose)
    with tempfile.TemporaryDirectory(prefix=".localai-backup-", dir=target.parent) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        (work / "volumes").mkdir()
        members: list[str] = []
        env_copy = work / "env"
        env_copy.write_bytes(settings.env_path.read_bytes())
        members.append("env")
        with (work / "postgres.sql").open("wb") as out:
            try:
                compose.exec_binary("db", [*dbstate.admin_psql("postgres", "pg_dumpall"), "--clean", "--if-exists"],
                                    stdout=out)
            except CommandFailed as exc:
                raise StackError("pg_dumpall failed", stderr=exc.stderr) from exc
        members.append("postgres.sql")
        for mount in mounts(compose_config):
            if mount.volume == database_volume():
                continue
            cid = ids.get(mount.service)
            if not cid:
                continue
            rel = f"volumes/{mount.volume}.tar"
            with (work / rel).open("wb") as out:
                try:
                    runner.pipe(["docker", "cp", "-a", f"{cid}:{mount.path}/.", "-"], stdout=out)
                except CommandFailed as exc:
                    raise StackError(f"copying volume {mount.volume} failed", stderr=exc.stderr) from exc
            members.append(rel)
        manifest = {
            "format": FORMAT, "project": settings.project,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "volumes": {m.volume: {"service": m.service, "path": m.path} for m in mounts(compose_config)},
            "sha256": {name: _sha256_file(work / name) for name in members},
            "sizes": {name: (work / name).stat().st_size for name in members},
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        partial = work / "archive.tar"
        with tarfile.open(partial, "w") as archive:
            for name in ["manifest.json", *members]:
                archive.add(work / name, arcname=name)
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    return target


def verify(path: Path) -> dict[str, object]:
    """Open the archive and check every member against the manifest. Touches nothing."""
    if not path.is_file():
        raise ConfigError(f"backup {path} does not exist")
    try:
        with tarfile.open(path, "r:") as archive:
            manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
            if manifest.get("format") != FORMAT:
                raise ConfigError(f"backup {path.name} has format {manifest.get('format')!r}, this start.py "
                                  f"reads format {FORMAT}; refusing it")
            expected: dict[str, str] = manifest["sha256"]
            names = set(archive.getnames()) - {"manifest.json"}
            if names != set(expected):
                raise ConfigError(f"backup {path.name} is incomplete or has unexpected members; refusing it")
            for name, digest in expected.items():
                handle = archive.extractfile(name)
                if handle is None:
                    raise ConfigError(f"backup {path.name}: {name} is not a file")
                h = hashlib.sha256()
                while chunk := handle.read(CHUNK):
                    h.update(chunk)
                if h.hexdigest() != digest:
                    raise ConfigError(f"backup {path.name}: checksum of {name} does not match; refusing it")
    except (tarfile.TarError, KeyError, ValueError, OSError, EOFError) as exc:
        raise ConfigError(f"backup {path.name} is corrupt or truncated ({type(exc).__name__}); "
                          "nothing was changed") from exc
    return manifest


def archived_env(path: Path) -> str:
    """The .env text a (verified) archive carries: the keys its data was made with."""
    try:
        with tarfile.open(path, "r:") as archive:
            handle = archive.extractfile("env")
            if handle is None:
                raise ConfigError(f"backup {path.name} holds no .env; refusing it")
            return handle.read().decode("utf-8")
    except (tarfile.TarError, KeyError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"backup {path.name}: its .env cannot be read ({type(exc).__name__}); "
                          "nothing was changed") from exc


def restore(path: Path, settings: Settings, compose: Compose, running_ok: bool,
            rerender: Callable[[], Compose], wait_db: Callable[[Compose], None]) -> None:
    """Verify first; then recreate the volumes and bring every byte back."""
    manifest = verify(path)
    states = compose.states()
    if any(s.state == "running" for s in states.values()) and not running_ok:
        raise ConfigError("the stack is running and restore replaces its data; stop it first or pass --yes")
    with tempfile.TemporaryDirectory(prefix=".localai-restore-") as tmp, tarfile.open(path, "r:") as archive:
        work = Path(tmp)
        archive.extractall(work, filter="data")
        compose.down(volumes=True)
        write_atomic(settings.env_path, (work / "env").read_text(), mode=0o600)
        compose = rerender()
        compose.create()
        # Extract as root with numeric owners kept (tar -p), in a throw-away container of the db
        # image (it has tar); `docker cp` into a stopped container cannot map the owners back.
        for volume in manifest["volumes"]:  # type: ignore[union-attr]
            member = work / "volumes" / f"{volume}.tar"
            if volume == database_volume() or not member.exists():
                continue
            with member.open("rb") as handle:
                try:
                    runner.pipe(["docker", "run", "--rm", "-i", "--user", "0", "--entrypoint", "tar",
                                 "-v", f"{compose.volume_name(volume)}:/target", settings["SUPABASE_DB_IMAGE"],
                                 "-C", "/target", "--numeric-owner", "-xpf", "-"], stdin=handle)
                except CommandFailed as exc:
                    raise StackError(f"restoring volume {volume} failed", stderr=exc.stderr) from exc
        compose.start("db")
        wait_db(compose)
        with (work / "postgres.sql").open("rb") as handle:
            try:
                compose.exec_binary("db", [*dbstate.admin_psql("postgres"), "-q", "-o", "/dev/null"], stdin=handle)
            except CommandFailed as exc:
                raise StackError("loading the database dump failed", stderr=exc.stderr) from exc


def read_compose(build: Path) -> dict[str, object]:
    return yaml.safe_load(io.StringIO((build / "docker-compose.yml").read_text()))
