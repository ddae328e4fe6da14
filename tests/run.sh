#!/usr/bin/env bash
# The one command that runs every test on a fresh machine:
#   installs what the tests need (Docker Engine, Caddy, debootstrap, Compose v2, the Python
#   dependencies in .venv), builds the local test images (cached), then runs lint, unit,
#   validation and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Wall time of each phase, printed at the end (also when a phase fails). The builds and test modules
# of this run are in pytest's "where the time went" table, which counts from LOCALAI_RUN_STARTED.
RUN_STARTED=$(date +%s)
export LOCALAI_RUN_STARTED=$RUN_STARTED
PHASES=()
phase_name=""
phase_started=$RUN_STARTED
end_phase() {
  if [ -n "$phase_name" ]; then
    PHASES+=("$phase_name=$(($(date +%s) - phase_started))")
  fi
  phase_name=""
}
phase() {
  end_phase
  phase_name=$1
  phase_started=$(date +%s)
  echo "==> $1"
}
wall_times() {
  local rc=$?
  end_phase
  echo "==> wall time (exit $rc)"
  for entry in "${PHASES[@]}"; do
    printf '  %-16s %6ss\n' "${entry%%=*}" "${entry##*=}"
  done
  printf '  %-16s %6ss\n' total "$(($(date +%s) - RUN_STARTED))"
  exit "$rc"
}
trap wall_times EXIT

# Runs one pass of the tests (a pytest command, or `wait` for one in the background): a failure sets
# the exit status, 5 does not (the arguments given select none of this pass's tests).
status=0
test_pass() {
  local rc=0
  "$@" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || status=$rc
}

PYTHON_BIN=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  phase "create .venv"
  "$PYTHON_BIN" -m venv .venv
fi
phase "pip install"
.venv/bin/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
# start.py's bootstrap treats this venv as its own and current.
sha256sum requirements.txt | cut -d' ' -f1 > .venv/.requirements.sha256

phase "setup_machine"  # Docker, Compose, Caddy and the rest of what the tests run (not the images yet)
PYTHON=.venv/bin/python bash tests/setup_machine.sh --skip-images

phase "lint"
.venv/bin/ruff check .

# The tests that need no image (unit, validation, the doubles' own tests) run in a second pytest beside
# the image builds: on a fresh machine the builds leave part of the CPU idle for minutes (npm and pip
# downloads, a single build's tail). They finish first: the end-to-end tests start once both are done,
# so no stack ever shares the CPU with them. Their output follows the builds' in the log.
phase "images + unit"
UNIT_LOG=$(mktemp /tmp/localai-unit-tests.XXXXXX.log)
LOCALAI_TIME_BUILDS=0 .venv/bin/python -m pytest tests -p no:xdist -m "not e2e and not serial" "$@" \
  >"$UNIT_LOG" 2>&1 &
unit_pid=$!
images_status=0
PYTHON=.venv/bin/python bash tests/setup_machine.sh || images_status=$?
test_pass wait "$unit_pid"
echo "==> unit, validation and double tests (ran beside the image builds)"
cat "$UNIT_LOG"
rm -f "$UNIT_LOG"
if [ "$images_status" -ne 0 ]; then
  echo "run.sh: the test images could not be built (the failed step is named above)" >&2
  exit "$images_status"
fi

# LOCALAI_TEST_WORKERS=N runs the suite on N pytest-xdist workers sharing the one engine: each module
# stays on one worker (--dist loadfile), each worker shifts its host ports, and public-mode stacks
# (ports 80/443) take turns (tests/e2e/conftest.py). Not the default: on the 2-core CI machine two
# workers took 49 min for what one process does in about 40 (every module ran twice as slow: the
# stacks are CPU bound, not waiting), and the load pushed a browser step past its timeout.
WORKERS=${LOCALAI_TEST_WORKERS:-0}
if [ "$WORKERS" -gt 0 ]; then
  PARALLEL=(-n "$WORKERS" --dist loadfile)
else
  PARALLEL=(-p no:xdist)
fi
phase "e2e tests"
test_pass .venv/bin/python -m pytest tests "${PARALLEL[@]}" -m "e2e and not serial" "$@"
phase "serial tests"  # restart the one dockerd: alone, after everything else
test_pass .venv/bin/python -m pytest tests -p no:xdist -m serial "$@"
exit "$status"
