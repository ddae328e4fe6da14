#!/usr/bin/env bash
# What the official image's CMD `bash start.sh` does (open-webui/open-webui backend/start.sh, stored
# snapshot @059cf821), for the PyPI install in /opt/venv (tests only):
# - :3-4 runs from its own folder (/app/backend); :19-20 PORT default 8080, HOST default 0.0.0.0;
# - :17, :21-32 when WEBUI_SECRET_KEY and WEBUI_JWT_SECRET_KEY are both empty, the key comes from
#   ./.webui_secret_key (generated once, 12 random bytes base64, :27) - beside start.sh, not in the
#   data volume, so it is lost with the container;
# - :72 the snapshot pipes uvicorn through `tee server.log` with --log-level debug; here the server
#   is exec'd (PID 1 gets docker stop's SIGTERM) at uvicorn's default log level.
# - then uvicorn serves open_webui.main:app, forwarded-allow-ips '*', UVICORN_WORKERS (default 1).
# The official image runs uvicorn on its source tree (/app/backend/open_webui beside /app/build and
# /app/package.json). For the wheel, its own launcher `open-webui serve` (open_webui/__init__.py:37-94)
# does the same: it sets FROM_INIT_PY, so env.py takes the version from the package metadata
# (env.py:143-144) and the web app from the wheel (env.py:256-257), and runs uvicorn with
# FORWARDED_ALLOW_IPS (default '*') and UVICORN_WORKERS. DATA_DIR is set by the image (Dockerfile), so
# env.py:230-250 moves nothing.
set -u
cd "$(dirname -- "${BASH_SOURCE[0]}")" || exit 1
KEY_FILE=.webui_secret_key
PORT="${PORT:-8080}"
HOST="${HOST:-0.0.0.0}"
if [ -z "${WEBUI_SECRET_KEY:-}${WEBUI_JWT_SECRET_KEY:-}" ]; then
  echo "Loading WEBUI_SECRET_KEY from file, not provided as an environment variable."
  if [ ! -e "$KEY_FILE" ]; then
    echo "Generating WEBUI_SECRET_KEY"
    head -c 12 /dev/random | base64 > "$KEY_FILE"
  fi
  echo "Loading WEBUI_SECRET_KEY from $KEY_FILE"
  WEBUI_SECRET_KEY=$(cat "$KEY_FILE")
fi
export WEBUI_SECRET_KEY="${WEBUI_SECRET_KEY:-}"
exec open-webui serve --host "$HOST" --port "$PORT"
