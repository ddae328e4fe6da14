#!/bin/sh
# Build step of the postgres test images (run by their Dockerfiles; argument: the major version).
set -eu
major=$1
src=$(dirname "$0")
test -x "/usr/lib/postgresql/$major/bin/postgres"
mkdir -p /etc/postgresql /docker-entrypoint-initdb.d /var/run/postgresql /etc/postgresql-custom \
	/var/lib/postgresql/data
cp "$src"/etc/postgresql.conf "$src"/etc/pg_hba.conf "$src"/etc/pg_ident.conf /etc/postgresql/
cp -R "$src"/initdb/. /docker-entrypoint-initdb.d/
install -m 0755 "$src"/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
chmod 0755 /docker-entrypoint-initdb.d/migrate.sh
# Dockerfile-17 COPYs the configuration with --chown=postgres:postgres and makes
# /var/run/postgresql postgres' own; like the official image, the socket directory is writable
# for any uid (3777) and PGDATA is 0700.
chown -R postgres:postgres /etc/postgresql /etc/postgresql-custom /var/run/postgresql /var/lib/postgresql/data
chmod 3777 /var/run/postgresql
chmod 0700 /var/lib/postgresql/data
