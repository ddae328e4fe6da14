#!/bin/sh
# The official image's entrypoint contract (n8n-io/n8n docker/images/n8n/docker-entrypoint.sh, 1.x and
# 2.x): trust /opt/custom-certificates when mounted, then `exec n8n` with the container's arguments
# (none: `n8n`, which runs `start`). It runs as user node (the Dockerfile's USER), under tini.
if [ -d /opt/custom-certificates ]; then
  echo "Trusting custom certificates from /opt/custom-certificates."
  export NODE_OPTIONS="--use-openssl-ca $NODE_OPTIONS"
  export SSL_CERT_DIR=/opt/custom-certificates
fi
if [ "$#" -gt 0 ]; then
  exec n8n "$@"
else
  exec n8n
fi
