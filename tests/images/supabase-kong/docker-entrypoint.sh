#!/bin/sh
# Kong's image entrypoint, reduced to what the double needs: `kong docker-start` runs Kong in the
# foreground; anything else is executed as given.
set -e
if [ "$1" = "kong" ] && [ "$2" = "docker-start" ]; then
  exec kong docker-start
fi
exec "$@"
