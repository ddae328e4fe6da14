#!/bin/sh
# Install the real Open WebUI from PyPI into /opt/venv (first stage of the Dockerfile; tests only).
# Every step is named, so a build that cannot fetch something fails with that step named.
set -eu
S=/tmp/staged
STEP=start
trap 'rc=$?; if [ "$rc" -ne 0 ]; then echo "install.sh: step \"$STEP\" failed (exit $rc)" >&2; fi' EXIT
step() { STEP="$1"; echo "== $1"; }

step "trust the proxy CA (staged from the host; this stage is discarded)"
cp "$S/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt

step "unpack uv ${UV_WHEEL}"
python3 -m zipfile -e "$S/$UV_WHEEL" /tmp/uv
UV=$(ls /tmp/uv/uv-*.data/scripts/uv)
chmod 755 "$UV"

step "create /opt/venv on Debian's python3 (the official image uses python:3.11-slim-bookworm)"
"$UV" venv --python /usr/bin/python3 /opt/venv

step "install open-webui==${OPEN_WEBUI_VERSION} from PyPI with the local CPU torch ${TORCH_WHEEL}"
SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt UV_NATIVE_TLS=1 UV_NO_CACHE=1 UV_HTTP_TIMEOUT=180 \
  "$UV" pip install --python /opt/venv/bin/python --compile-bytecode \
  "$S/$TORCH_WHEEL" "open-webui==${OPEN_WEBUI_VERSION}"

step "check the install: open_webui imports its version, torch is the CPU build, no CUDA wheels"
/opt/venv/bin/python -c "import importlib.metadata as m; v = m.version('open-webui'); assert v == '${OPEN_WEBUI_VERSION}', v"
/opt/venv/bin/python -c "import torch; assert torch.version.cuda is None, torch.version.cuda"
if "$UV" pip list --python /opt/venv/bin/python 2>/dev/null | grep -i '^nvidia-'; then
  echo "CUDA wheels were installed" >&2; exit 1
fi
STEP=done
