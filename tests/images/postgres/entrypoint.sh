#!/bin/bash
# Entrypoint of the test Postgres: the official image's contract (POSTGRES_PASSWORD required on
# first start, POSTGRES_USER/POSTGRES_DB, init files run once) plus supabase/postgres's
# init-scripts/ then migrations/ sub-folders.
set -Eeuo pipefail

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

run_init_files() {
  local dir=$1 f
  for f in $(find "$dir" -maxdepth 1 -type f \( -name '*.sql' -o -name '*.sh' \) 2>/dev/null | sort); do
    echo "init: running ${f#/docker-entrypoint-initdb.d/}"
    case "$f" in
      *.sh) bash "$f" ;;
      *.sql) psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" ;;
    esac
  done
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "Error: Database is uninitialized and superuser password is not specified (set POSTGRES_PASSWORD)." >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
         --encoding=UTF8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
  export PGHOST=/var/run/postgresql
  if ! (
    set -e
    if [ "$POSTGRES_DB" != postgres ]; then
      psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    run_init_files /docker-entrypoint-initdb.d
    run_init_files /docker-entrypoint-initdb.d/init-scripts
    run_init_files /docker-entrypoint-initdb.d/migrations
  ); then
    echo "init: FAILED; removing the half-initialised data directory so the next start retries" >&2
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null || true
    find "$PGDATA" -mindepth 1 -delete
    exit 1
  fi
  unset PGHOST
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "init: PostgreSQL init process complete; ready for start up."
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" -c unix_socket_directories=/var/run/postgresql "$@"
fi
exec "$@"
