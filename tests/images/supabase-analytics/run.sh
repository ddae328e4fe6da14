#! /bin/sh
# What Logflare's run.sh (Logflare/logflare run.sh @ v1.42.0:23-26) does with our settings: print the
# node host, run the migrations, then start (with no `set -e`: start runs even if the migrations fail).
echo "LOGFLARE_NODE_HOST is: $LOGFLARE_NODE_HOST"
./logflare eval Logflare.Release.migrate
exec ./logflare start --sname logflare
