#!/bin/bash
# Entrypoint of the test Postgres. It keeps the contract of the official postgres image, whose
# entrypoint supabase/postgres ships unchanged (its nix build fetches docker-library/postgres
# @889f9447 17/bullseye/docker-entrypoint.sh; Dockerfile-17 ADDs the same file), so the stack's
# db service runs on it unchanged. Line numbers below are of that file:
#   - starts as root, fixes ownership of the data and socket directories, drops to `postgres`
#     (lines 340-347);
#   - first start (no PGDATA/PG_VERSION, line 258): POSTGRES_PASSWORD is required (line 127);
#     initdb with POSTGRES_USER and that password through --pwfile (line 92), POSTGRES_INITDB_ARGS
#     word-split; `host all all all scram-sha-256` is appended to PGDATA's pg_hba.conf (line 288;
#     supabase/postgres points hba_file elsewhere, so it has no effect there either);
#     POSTGRES_DB is created (lines 229-238); PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD} for the
#     init (line 363); the top-level /docker-entrypoint-initdb.d/* files run once (line 367: *.sh
#     executed if executable, else sourced; *.sql via psql; folders are ignored, line 207),
#     against a server that listens on the unix socket only (line 301);
#   - supabase/postgres' only top-level init file is migrate.sh, which runs init-scripts/ as
#     postgres and migrations/ as supabase_admin (see /docker-entrypoint-initdb.d/migrate.sh);
#   - an init that fails leaves no half-initialised PGDATA behind: the next start retries (ours:
#     the official image leaves it for the user to clear);
#   - finally `exec postgres "$@"` (line 386), so Postgres is PID 1 and `docker stop` is clean.
set -Eeuo pipefail

SOCKET_DIR=/var/run/postgresql
INITDB_DIR=/docker-entrypoint-initdb.d
export PGDATA=${PGDATA:-/var/lib/postgresql/data}

say() { echo "docker-entrypoint: $*"; }

# VAR_FILE=/run/secrets/x instead of VAR=value, as the official image allows.
file_env() {
	local var=$1 file_var="${1}_FILE" default=${2:-}
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		say "error: both $var and $file_var are set (but are exclusive)" >&2
		exit 1
	fi
	local value=$default
	if [ -n "${!var:-}" ]; then
		value=${!var}
	elif [ -n "${!file_var:-}" ]; then
		value=$(<"${!file_var}")
	fi
	export "$var"="$value"
	unset "$file_var"
}

# `docker run IMAGE -c foo=bar` means postgres with that option.
if [ "${1:0:1}" = - ]; then
	set -- postgres "$@"
fi

# Anything but the server (a shell, psql, ...) runs as asked, without any setup.
if [ "$1" != postgres ]; then
	exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
	# A fresh named volume or bind mount may belong to root: hand it to postgres.
	mkdir -p "$PGDATA" "$SOCKET_DIR"
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chown postgres:postgres "$SOCKET_DIR"
	chmod 700 "$PGDATA"
	chmod 3777 "$SOCKET_DIR"
	export HOME=/var/lib/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ -s "$PGDATA/PG_VERSION" ]; then
	say "database directory appears to contain a database; skipping initialization"
	exec "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
host_auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

if [ -z "$POSTGRES_PASSWORD" ] && [ "$host_auth" != trust ]; then
	echo "Error: Database is uninitialized and superuser password is not specified." \
		"You must specify POSTGRES_PASSWORD to a non-empty value for the superuser." >&2
	exit 1
fi

# From here on a failure (or a stop) must not leave a half-built cluster that a later start
# would take for a finished one.
temp_server_started=0
init_failed() {
	local rc=$?
	trap - EXIT
	[ "$rc" = 0 ] && rc=1
	if [ "$temp_server_started" = 1 ]; then
		pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	find "$PGDATA" -mindepth 1 -delete 2>/dev/null || true
	echo "docker-entrypoint: initialization FAILED (exit $rc); the data directory was emptied," \
		"so the next start initializes again from scratch" >&2
	exit "$rc"
}
trap init_failed EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

say "initializing a new database cluster in $PGDATA"
# The password reaches initdb through a pipe, never through argv. Unquoted on purpose: the
# official image word-splits POSTGRES_INITDB_ARGS too.
if [ -n "$POSTGRES_PASSWORD" ]; then
	# shellcheck disable=SC2086
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--encoding=UTF8 $POSTGRES_INITDB_ARGS >/dev/null
else
	# shellcheck disable=SC2086
	initdb --username="$POSTGRES_USER" --encoding=UTF8 $POSTGRES_INITDB_ARGS >/dev/null
fi
# Same rules as the official image: local socket and loopback trusted, everything else scram.
printf '\nhost all all all %s\n' "$host_auth" >>"$PGDATA/pg_hba.conf"

# A temporary server on the unix socket only: nobody can connect before init has finished.
# It gets the same options as the real server (e.g. -c config_file=...).
shift
temp_opts=$(printf '%q ' "$@" -c "listen_addresses=" -p "${PGPORT:-5432}")
PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "$temp_opts" -w start >/dev/null
temp_server_started=1
set -- postgres "$@"

export PGHOST=$SOCKET_DIR PGPORT=${PGPORT:-5432} PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
psql_init=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER")

if [ "$POSTGRES_DB" != postgres ]; then
	exists=$("${psql_init[@]}" --dbname postgres --tuples-only --no-align --set db="$POSTGRES_DB" \
		<<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
	if [ -z "$exists" ]; then
		say "creating database $POSTGRES_DB"
		"${psql_init[@]}" --dbname postgres --quiet --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
fi

# One init file: *.sh executed (if executable) or sourced, *.sql (optionally compressed) piped
# through psql. psql inherits the container's environment, so SQL can read it with \set x `...`.
run_init_file() {
	local f=$1
	case "$f" in
	*.sh)
		if [ -x "$f" ]; then
			say "running $f"
			"$f"
		else
			say "sourcing $f"
			# The official image sources these without `set -u`; so do we.
			set +u
			# shellcheck disable=SC1090
			. "$f"
			set -u
		fi
		;;
	*.sql) say "running $f"; "${psql_init[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
	*.sql.gz) say "running $f"; gunzip -c "$f" | "${psql_init[@]}" --dbname "$POSTGRES_DB" ;;
	*.sql.xz) say "running $f"; xz -dc "$f" | "${psql_init[@]}" --dbname "$POSTGRES_DB" ;;
	*) say "ignoring $f" ;;
	esac
}

# The top-level entries of the init folder, in glob order (the image's locale is C.UTF-8).
for f in "$INITDB_DIR"/*; do
	[ -e "$f" ] || continue
	run_init_file "$f"
done

pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
temp_server_started=0
unset PGHOST PGPASSWORD
trap - EXIT TERM INT
say "PostgreSQL init process complete; ready for start up."

exec "$@"
