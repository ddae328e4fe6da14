"""Move the database volume to a new Postgres major version: dump, fresh volume, restore, verify.

Postgres cannot open a data directory written by another major version (the server refuses with
"database files are incompatible with server"), so a pin bump from supabase/postgres 15.x to 17.x
needs more than a new image. Supabase's own self-hosting tool for that step
(supabase/supabase docker/utils/upgrade-pg17.sh @ 35d648ba) runs pg_upgrade with scripts built for
its own image. We dump and restore instead, which works on any image that keeps the Postgres image
contract, and lets the new image's init scripts (and ours) build a cluster the way a fresh install
gets it:

1. Before anything changes: read PG_VERSION in the volume, the new image's major version, find the
   old image (the db container's, the one recorded at the last `up`, or the old default pin), check
   disk space and (on the running server) extensions Postgres 17 no longer has. Refuse with one
   line, saying what to do, if anything is missing.
2. The stack goes down; the old image serves the old volume in a container with no network; the
   NEW image's pg_dumpall dumps it (PostgreSQL docs, "Upgrading a PostgreSQL Cluster": use the
   newer version's pg_dump/pg_dumpall). Databases, roles, every table's row count and every view,
   function, policy, trigger and index are listed.
3. The old volumes are copied, byte for byte and checked, to <project>_db_data_pg<N>_<date> (Docker
   cannot rename a volume and Compose fixes the name), then <project>_db_data is removed.
4. Compose starts the db service on the new image and a fresh volume (init scripts run), the dump is
   loaded as supabase_admin, and the lists are compared: anything missing, or fewer rows, and the
   old data is put back and the error says how to stay on the old image.

supabase/postgres facts used (supabase/postgres @ eeea0682, Dockerfile-17): POSTGRES_USER is
supabase_admin (the initdb superuser; migrations/db/migrate.sh @ 7fcf0e32 gives it POSTGRES_PASSWORD
and demotes postgres), /etc/postgresql-custom holds config the server includes (our db_config
volume), and ansible/files/postgresql_config/pg_hba.conf.j2 @ 55e421ae trusts 127.0.0.1 and ::1.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from stack.config.settings import Settings
from stack.engines import runner
from stack.errors import StackError
from stack.ops.pgfacts import (
    DATA_KEY,
    DATABASES_SQL,
    EXTENSIONS_SQL,
    Facts,
    Plan,
    candidates,
    disk_problem,
    gone_extensions,
    gone_message,
    parse_major,
    psql_argv,
)

# --- Docker probes (read only) -------------------------------------------------------------------

def volume_exists(name: str) -> bool:
    return runner.run(["docker", "volume", "inspect", name], check=False, timeout=30).returncode == 0


def volume_major(volume: str, reader_image: str) -> int | None:
    """The major version in the volume's PG_VERSION; None for no volume or an empty one."""
    if not volume_exists(volume):
        return None
    result = runner.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh",
                         "-v", f"{volume}:/data:ro", reader_image, "-c",
                         "if [ -e /data/PG_VERSION ]; then cat /data/PG_VERSION; else echo none; fi"], timeout=120)
    text = result.stdout.strip()
    if text == "none":
        return None
    major = parse_major(text)
    if major is None:
        raise StackError(f"the database volume {volume} has an unreadable PG_VERSION ({text[:40]!r}); "
                         "nothing was changed; check the volume before updating")
    return major


def image_present(image: str) -> bool:
    return runner.run(["docker", "image", "inspect", image], check=False, timeout=60).returncode == 0


def image_available(image: str) -> bool:
    """Here already, or pulled now."""
    if image_present(image):
        return True
    return runner.run(["docker", "pull", "--quiet", image], check=False, timeout=1800).returncode == 0


def image_major(image: str) -> int | None:
    result = runner.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "postgres", image,
                         "--version"], check=False, timeout=120)
    return parse_major(result.stdout) if result.returncode == 0 else None


def _db_container_images(project: str) -> list[tuple[str, str]]:
    """(image id, image name) of the db container, when it still exists (running or not): the id
    runs even after the tag was removed or re-pointed."""
    ids = runner.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}",
                      "--filter", "label=com.docker.compose.service=db"], timeout=30).stdout.split()
    found: list[tuple[str, str]] = []
    for cid in ids:
        out = runner.run(["docker", "inspect", "--format", "{{.Image}} {{.Config.Image}}", cid],
                         check=False, timeout=30).stdout.split()
        if len(out) == 2:
            found.append((out[0], out[1]))
    return found


def running_extensions(project: str) -> dict[str, list[str]] | None:
    """Extensions per database of the running db container (the old server), or None if it is not running."""
    ids = runner.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                      "--filter", "label=com.docker.compose.service=db"], timeout=30).stdout.split()
    if not ids:
        return None
    prefix = ["docker", "exec", ids[0]]
    databases = runner.run([*prefix, *psql_argv("postgres", DATABASES_SQL)], check=False, timeout=120)
    if databases.returncode != 0:
        return None   # not answering (yet): the move checks again on its own server
    found: dict[str, list[str]] = {}
    for database in databases.stdout.splitlines():
        result = runner.run([*prefix, *psql_argv(database, EXTENSIONS_SQL)], check=False, timeout=120)
        found[database] = result.stdout.splitlines()
    return found


def _volume_space(volume: str, image: str) -> tuple[int, int]:
    """(KiB used by the volume, KiB free on the disk that holds it)."""
    out = runner.run(["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh",
                      "-v", f"{volume}:/data:ro", image, "-c", "du -sk /data | cut -f1; df -Pk /data | tail -1"],
                     timeout=600).stdout.split("\n")
    return int(out[0].strip()), int(out[1].split()[3])


def plan(settings: Settings, recorded_image: str | None, work_root: Path) -> Plan | None:
    """None when the volume is absent, empty or already on the new image's major version; a Plan
    when it must move; a StackError (one line, nothing changed) when it cannot."""
    new_image = settings.image("SUPABASE_DB_IMAGE")
    project = settings.project
    data_volume = f"{project}_{DATA_KEY}"
    if not image_present(new_image):
        raise StackError(f"the database image {new_image} is not here and could not be pulled; nothing was changed; "
                         "pull or load it, or point SUPABASE_DB_IMAGE in .env at a registry you can reach")
    old_major = volume_major(data_volume, new_image)
    if old_major is None:
        return None
    new_major = image_major(new_image)
    if new_major is None:
        raise StackError(f"cannot tell which Postgres version {new_image} runs (`postgres --version` failed); "
                         "nothing was changed; set SUPABASE_DB_IMAGE in .env to a supabase/postgres image")
    if new_major == old_major:
        return None
    if new_major < old_major:
        raise StackError(f"the database volume holds Postgres {old_major} data and SUPABASE_DB_IMAGE ({new_image}) "
                         f"is Postgres {new_major}: moving back is not supported; nothing was changed; set "
                         f"SUPABASE_DB_IMAGE in .env to a Postgres {old_major} image")
    tried = candidates(_db_container_images(project), recorded_image, old_major)
    found = next(((ref, name) for ref, name in tried if image_available(ref) and image_major(ref) == old_major), None)
    if found is None:
        shown = ", ".join(dict.fromkeys(name for _, name in tried)) or f"a Postgres {old_major} image"
        raise StackError(f"the database volume holds Postgres {old_major} data, {new_image} is Postgres {new_major}, "
                         f"and no Postgres {old_major} image is here to dump it with (tried: {shown}); nothing was "
                         f"changed; pull or load that image, or set SUPABASE_DB_IMAGE back to it in .env")
    in_use = running_extensions(project)
    gone = gone_extensions(Facts(extensions=in_use or {}), new_major)
    if gone:
        raise StackError(f"cannot move the database to Postgres {new_major}: "
                         f"{gone_message(gone, old_major, new_major)}; nothing was changed")
    used, docker_free = _volume_space(data_volume, new_image)
    probe = next(p for p in (work_root, *work_root.parents) if p.exists())
    problem = disk_problem(used, docker_free, shutil.disk_usage(probe).free // 1024, work_root)
    if problem:
        raise StackError(f"cannot move the database from Postgres {old_major} to {new_major}: {problem}, then run "
                         "`python start.py update` again; nothing was changed")
    return Plan(project=project, volume_major=old_major, new_major=new_major, old_image=found[0],
                old_image_name=found[1], new_image=new_image, stamp=time.strftime("%Y%m%d%H%M%S"))


def check_major(settings: Settings) -> None:
    """Before `up` starts anything: a data volume the image cannot open is refused, with the way out."""
    image = settings.image("SUPABASE_DB_IMAGE")
    try:
        have = volume_major(f"{settings.project}_{DATA_KEY}", image)
    except StackError:
        return   # not readable with this image: the server's own start will say why
    if have is None:
        return
    runs = image_major(image)
    if runs is not None and runs != have:
        raise StackError(f"the database volume holds Postgres {have} data and SUPABASE_DB_IMAGE ({image}) is "
                         f"Postgres {runs}, which cannot open it; nothing was started; run `python start.py update` "
                         f"to move the data (the old volume is kept), or set SUPABASE_DB_IMAGE in .env back to a "
                         f"Postgres {have} image")
