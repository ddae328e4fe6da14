"""What a Postgres major-version move knows without running anything: names, SQL, the plan
and the facts compared before and after, and the texts the user reads (see stack.ops.pgupgrade)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from stack.services import supabase

DATA_KEY, CONFIG_KEY = supabase.DB.volumes  # the database record's volumes: data, then config
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
# A directory's own size is not compared: it depends on the file system's history (a directory that
# once held more entries stays larger), so an exact copy of it can be smaller than the original.
LISTING = ("cd \"$1\" && find . \\( -type d -printf '%p d - %U %G %m\\n' \\) -o -printf '%p %y %s %U %G %m %l\\n' "
           "| LC_ALL=C sort | sha256sum")


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


def psql_argv(database: str, sql: str) -> list[str]:
    """psql as the image's superuser over loopback, which supabase/postgres trusts (pg_hba.conf.j2)."""
    return ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "localhost", "-U", SUPERUSER, "-d", database,
            "-c", sql]


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
