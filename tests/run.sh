#!/usr/bin/env bash
# The one command that runs every test on a fresh machine:
#   installs what the tests need (Docker Engine, Caddy, debootstrap, Compose v2, the Python
#   dependencies in .venv), builds the local test images (cached), then runs lint, unit,
#   validation and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_BIN=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON_BIN" -m venv .venv
fi
echo "==> installing pinned Python dependencies"
.venv/bin/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
# start.py's bootstrap treats this venv as its own and current.
sha256sum requirements.txt | cut -d' ' -f1 > .venv/.requirements.sha256

echo "==> setting up Docker, Compose, Caddy and the test images"
PYTHON=.venv/bin/python bash tests/setup_machine.sh

echo "==> lint"
.venv/bin/ruff check .

echo "==> tests"
.venv/bin/python -m pytest tests "$@"
