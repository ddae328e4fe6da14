#!/bin/bash
# As supabase/supavisor limits.sh @ v2.9.10: raise the open-files limit when RLIMIT_NOFILE is set, then run the command.
set -euo pipefail
if [ -n "${RLIMIT_NOFILE:-}" ]; then
    echo "Setting RLIMIT_NOFILE to ${RLIMIT_NOFILE}"
    ulimit -n "$RLIMIT_NOFILE"
fi
exec "$@"
