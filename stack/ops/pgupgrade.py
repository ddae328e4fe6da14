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

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from stack.engines import runner
from stack.errors import StackError
from stack.settings import Settings

DATA_KEY = "db_data"
CONFIG_KEY = "db_config"
DATA_PATH = "/var/lib/postgresql/data"
CONFIG_PATH = "/etc/postgresql-custom"
SUPERUSER = "supabase_admin"
# The default pin of earlier releases of this project, per major version: the image a stack made
# with the old defaults ran, when neither its container nor our state file names it any more.
KNOWN_IMAGES = {15: "supabase/postgres:15.8.1.085"}
# Extensions Postgres 17 images do not have: a dump that creates them cannot be restored there.
# The first four: upgrade-pg17.sh @ 35d648ba (preflight); adminpack: PostgreSQL 17 release notes
# ("Remove adminpack contrib extension").
GONE_IN_17 = ("timescaledb", "plv8", "plcoffee", "plls", "adminpack")
# Room for the kept copy and the new cluster beside the old data, plus the new image's own init.
DISK_MARGIN_KIB = 1024 * 1024
READY_SECONDS = 300.0
PASSWORD_VARS = ("PGPASSWORD", "POSTGRES_PASSWORD")

TABLES_SQL = (
    "SELECT format('%I.%I', n.nspname, c.relname) || '|' || "
    "(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), "
    "false, true, '')))[1]::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1"
)
DATABASES_SQL = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
ROLES_SQL = "SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY 1"
EXTENSIONS_SQL = "SELECT extname FROM pg_extension ORDER BY 1"
# Schema objects a user makes (not those an extension owns): views, functions, policies, triggers
# and indexes must come back too, not only rows.
_USER_NS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
_NOT_EXT = ("NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{cat}'::regclass AND d.objid = {oid} "
            "AND d.deptype = 'e')")
OBJECTS_SQL = " UNION ALL ".join([
    "SELECT 'view ' || format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n "
    f"ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {_USER_NS} AND "
    + _NOT_EXT.format(cat="pg_class", oid="c.oid"),
    "SELECT 'function ' || format('%I.%I', n.nspname, p.proname) || '(' || "
    "pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    f"WHERE {_USER_NS} AND " + _NOT_EXT.format(cat="pg_proc", oid="p.oid"),
    "SELECT 'policy ' || format('%I.%I.%I', schemaname, tablename, policyname) FROM pg_policies",
    "SELECT 'trigger ' || format('%I.%I.%I', n.nspname, c.relname, t.tgname) FROM pg_trigger t JOIN pg_class c "
    f"ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND {_USER_NS} AND "
    + _NOT_EXT.format(cat="pg_class", oid="t.tgrelid"),
    "SELECT 'index ' || format('%I.%I', n.nspname, i.relname) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    f"JOIN pg_namespace n ON n.oid = i.relnamespace WHERE {_USER_NS} AND "
    + _NOT_EXT.format(cat="pg_class", oid="x.indrelid"),
]) + " ORDER BY 1"
# psql errors a restore onto a freshly initialised image always has: the image made these roles
# already, and roles that own objects cannot be dropped first.
EXPECTED_RESTORE_ERRORS = (re.compile(r'^ERROR:  role "[^"]+" already exists$'),
                           re.compile(r'^ERROR:  role "[^"]+" cannot be dropped because some objects depend on it$'),
                           re.compile(r"^ERROR:  current user cannot be dropped$"))
LISTING = "cd \"$1\" && find . -printf '%p %y %s %U %G %m %l\\n' | LC_ALL=C sort | sha256sum"


@dataclass(frozen=True)
class Plan:
    """Everything a migration needs, found before anything is touched."""

    project: str
    volume_major: int
    new_major: int
    old_image: str        # what to run the old volume with (a tag or an image id)
    old_image_name: str   # what the user pins in .env to go back
    new_image: str
    stamp: str

    @property
    def data_volume(self) -> str:
        return f"{self.project}_{DATA_KEY}"

    @property
    def config_volume(self) -> str:
        return f"{self.project}_{CONFIG_KEY}"

    @property
    def kept_data(self) -> str:
        return kept_name(self.project, DATA_KEY, self.volume_major, self.stamp)

    @property
    def kept_config(self) -> str:
        return kept_name(self.project, CONFIG_KEY, self.volume_major, self.stamp)


@dataclass
class Facts:
    """What must survive: databases, roles and the row count of every table in every database."""

    major: int = 0
    databases: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)   # "db:schema.table" -> count
    objects: list[str] = field(default_factory=list)      # "db:view schema.name", "db:function ..."
    extensions: dict[str, list[str]] = field(default_factory=dict)


def kept_name(project: str, key: str, major: int, stamp: str) -> str:
    return f"{project}_{key}_pg{major}_{stamp}"


def parse_major(version_output: str) -> int | None:
    """`postgres --version` prints e.g. "postgres (PostgreSQL) 17.6"; PG_VERSION holds "15"."""
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", version_output) or re.fullmatch(r"\s*(\d+)\s*", version_output)
    return int(match.group(1)) if match else None


def disk_problem(data_kib: int, docker_free_kib: int, host_free_kib: int, where: Path) -> str | None:
    """Why the migration would not fit on disk, or None. Sizes in KiB."""
    need_docker = 2 * data_kib + DISK_MARGIN_KIB
    if docker_free_kib < need_docker:
        return (f"not enough free space on Docker's disk to move the database ({_gib(need_docker)} needed for a "
                f"kept copy and the new cluster, {_gib(docker_free_kib)} free); free some space")
    if host_free_kib < data_kib:
        return (f"not enough free space in {where} for the database dump ({_gib(data_kib)} needed, "
                f"{_gib(host_free_kib)} free); free some space")
    return None


def _gib(kib: int) -> str:
    return f"{kib / (1024 * 1024):.1f} GiB"


def compare(before: Facts, after: Facts) -> tuple[list[str], list[str]]:
    """(what was lost, what grew). Lost: a database, role or table gone, or fewer rows than before."""
    lost = [f"database {d}" for d in before.databases if d not in after.databases]
    lost += [f"role {r}" for r in before.roles if r not in after.roles]
    lost += [item for item in before.objects if item not in set(after.objects)]
    grew: list[str] = []
    for table, count in before.rows.items():
        now = after.rows.get(table)
        if now is None:
            lost.append(f"table {table}")
        elif now < count:
            lost.append(f"{table}: {count} rows before, {now} after")
        elif now > count:
            grew.append(f"{table}: {count} rows before, {now} after")
    return lost, grew


def unexpected_errors(log: str) -> list[str]:
    """The psql ERROR lines of a restore that are not the ones every restore onto a fresh image has."""
    return [line for line in log.splitlines() if line.startswith("ERROR:")
            and not any(p.match(line) for p in EXPECTED_RESTORE_ERRORS)]


def gone_extensions(facts: Facts, new_major: int) -> list[str]:
    if new_major < 17:
        return []
    return sorted({f"{ext} (database {db})" for db, exts in facts.extensions.items() for ext in exts
                   if ext in GONE_IN_17})


def copy_command(image: str, source: str, target: str) -> list[str]:
    """Replace everything in volume `target` with an exact copy (owners, modes) of volume `source`."""
    return ["docker", "run", "--rm", "--user", "0", "--network", "none", "--entrypoint", "sh",
            "-v", f"{source}:/from:ro", "-v", f"{target}:/to", image,
            "-c", "find /to -mindepth 1 -delete && cp -a /from/. /to/"]


def rollback_text(plan: Plan) -> str:
    """Exact steps back to the old major version, with the kept volumes."""
    def shown(argv: list[str]) -> str:
        return " ".join(f"'{a}'" if " " in a or "&" in a else a for a in argv)

    return "\n".join([
        f"Roll back to Postgres {plan.volume_major} (changes made after this update are lost):",
        "  python start.py down",
        f"  in .env set SUPABASE_DB_IMAGE={plan.old_image_name}",
        "  " + shown(copy_command(plan.old_image_name, plan.kept_data, plan.data_volume)),
        "  " + shown(copy_command(plan.old_image_name, plan.kept_config, plan.config_volume)),
        "  python start.py up",
        f"Once you are happy with Postgres {plan.new_major}, remove the kept copy: "
        f"docker volume rm {plan.kept_data} {plan.kept_config}",
    ])


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


def psql_argv(database: str, sql: str) -> list[str]:
    """psql as the image's superuser over loopback, which supabase/postgres trusts (pg_hba.conf.j2)."""
    return ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "localhost", "-U", SUPERUSER, "-d", database,
            "-c", sql]


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


def gone_message(gone: list[str], old_major: int, new_major: int) -> str:
    return (f"Postgres {new_major} has no {', '.join(gone)}: drop "
            f"{'them' if len(gone) > 1 else 'it'} (DROP EXTENSION ... CASCADE) on Postgres {old_major} first, "
            "then run `python start.py update` again")


def candidates(container_images: list[tuple[str, str]], recorded: str | None, major: int) -> list[tuple[str, str]]:
    """Old images to try, best first, as (what to run, what to pin in .env): the db container's, the
    one recorded at the last `up`, the old default pin."""
    found = [(name, name) for _, name in container_images] + list(container_images)
    found += [(name, name) for name in (recorded, KNOWN_IMAGES.get(major)) if name]
    return list(dict.fromkeys(found))


def _volume_space(volume: str, image: str) -> tuple[int, int]:
    """(KiB used by the volume, KiB free on the disk that holds it)."""
    out = runner.run(["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh",
                      "-v", f"{volume}:/data:ro", image, "-c", "du -sk /data | cut -f1; df -Pk /data | tail -1"],
                     timeout=600).stdout.split("\n")
    return int(out[0].strip()), int(out[1].split()[3])


def plan(settings: Settings, recorded_image: str | None, work_root: Path) -> Plan | None:
    """None when the volume is absent, empty or already on the new image's major version; a Plan
    when it must move; a StackError (one line, nothing changed) when it cannot."""
    new_image = settings["SUPABASE_DB_IMAGE"]
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
    image = settings["SUPABASE_DB_IMAGE"]
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
