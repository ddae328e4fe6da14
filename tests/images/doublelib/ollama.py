"""Contract double of Ollama (ollama/ollama): the `ollama` CLI and the HTTP API the stack uses."""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path

from common import env, log, refuse, reply, serve

DATA = Path(env("DOUBLE_DATA_DIR", "/root/.ollama"))
MODELS = DATA / "models"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?(:[A-Za-z0-9][A-Za-z0-9._-]*)?$")
NEVER_READY = Path("/etc/double-never-ready").exists()


def _host() -> tuple[str, int]:
    value = env("OLLAMA_HOST", "127.0.0.1:11434").removeprefix("http://")
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port or 11434)


def canonical(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def manifest_path(name: str) -> Path:
    repo, _, tag = canonical(name).rpartition(":")
    return MODELS / "manifests" / "registry.ollama.ai" / (repo if "/" in repo else f"library/{repo}") / tag


def installed() -> list[dict[str, object]]:
    models = []
    root = MODELS / "manifests" / "registry.ollama.ai"
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if path.is_file():
            data = json.loads(path.read_text())
            models.append({"name": data["name"], "model": data["name"], "size": data["size"],
                           "digest": data["digest"], "modified_at": data["modified_at"]})
    return models


def check_config() -> None:
    kv = env("OLLAMA_KV_CACHE_TYPE")
    if kv not in ("", "f16", "q8_0", "q4_0"):
        refuse(f"Error: invalid OLLAMA_KV_CACHE_TYPE {kv!r}")
    ctx = env("OLLAMA_CONTEXT_LENGTH")
    if ctx and not (ctx.isdigit() and int(ctx) > 0):
        refuse(f"Error: invalid OLLAMA_CONTEXT_LENGTH {ctx!r}")
    flash = env("OLLAMA_FLASH_ATTENTION").lower() in ("1", "true")
    if kv in ("q8_0", "q4_0") and not flash:
        log("quantized kv cache requested but flash attention disabled; using f16")
    log(f"config: flash_attention={flash} kv_cache={kv or 'f16'} context={ctx or 'default'}")


def pull_stream(request, handler) -> bool:
    if not (request.method == "POST" and request.path == "/api/pull"):
        return False
    body = request.json() or {}
    name = str(body.get("model") or body.get("name") or "")
    DATA.mkdir(parents=True, exist_ok=True)
    with (DATA / "double-pulls.log").open("a") as handle:
        handle.write(json.dumps({"model": name, "at": time.time()}) + "\n")
    handler.send_response(200)
    handler.send_header("Content-Type", "application/x-ndjson")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()

    def emit(event: dict[str, object]) -> None:
        data = (json.dumps(event) + "\n").encode()
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()

    emit({"status": "pulling manifest"})
    if not NAME_RE.match(name) or name.startswith(("missing", "does-not-exist")):
        emit({"error": "pull model manifest: file does not exist"})
    else:
        blob = hashlib.sha256(canonical(name).encode()).digest() * 4096
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        total = len(blob)
        for step in range(1, 6):
            emit({"status": f"pulling {digest[7:19]}", "digest": digest, "total": total,
                  "completed": total * step // 5})
            time.sleep(0.05)
        (MODELS / "blobs").mkdir(parents=True, exist_ok=True)
        (MODELS / "blobs" / digest.replace(":", "-")).write_bytes(blob)
        emit({"status": "verifying sha256 digest"})
        emit({"status": "writing manifest"})
        path = manifest_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"name": canonical(name), "size": total, "digest": digest,
                                    "modified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}))
        emit({"status": "success"})
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()
    return True


def handle(request):
    if NEVER_READY:
        return reply(503, {"error": "starting"})
    if request.path == "/" and request.method in ("GET", "HEAD"):
        return reply(200, "Ollama is running")
    if request.path == "/api/version":
        return reply(200, {"version": "0.0.0-double"})
    if request.path == "/api/tags":
        return reply(200, {"models": installed()})
    if request.path == "/api/delete" and request.method == "DELETE":
        name = str((request.json() or {}).get("model") or "")
        path = manifest_path(name) if name else None
        if not path or not path.exists():
            return reply(404, {"error": f"model '{name}' not found"})
        path.unlink()
        return reply(200, {})
    if request.path == "/api/show" and request.method == "POST":
        name = canonical(str((request.json() or {}).get("model") or ""))
        match = [m for m in installed() if m["name"] == name]
        return reply(200, {"details": {"format": "gguf"}, "model_info": {}}) if match else \
            reply(404, {"error": f"model '{name}' not found"})
    return reply(404, "404 page not found")


def cli(argv: list[str]) -> None:
    if not argv or argv[0] == "serve":
        check_config()
        host, port = _host()
        serve(handle, port, "0.0.0.0" if host in ("0.0.0.0", "") else host, streaming=pull_stream)
    elif argv[0] in ("--version", "-v"):
        print("ollama version is 0.0.0-double")
    elif argv[0] in ("list", "ls"):
        host, port = _host()
        target = "127.0.0.1" if host in ("0.0.0.0", "") else host
        try:
            with urllib.request.urlopen(f"http://{target}:{port}/api/tags", timeout=3) as response:
                models = json.load(response)["models"]
        except Exception as exc:  # noqa: BLE001 - the real CLI also just reports and exits 1
            print(f"Error: could not connect to ollama app, is it running? ({exc})", file=sys.stderr)
            sys.exit(1)
        print("NAME\tID\tSIZE\tMODIFIED")
        for model in models:
            print(f"{model['name']}\t{str(model['digest'])[7:19]}\t{model['size']}\t{model['modified_at']}")
    else:
        print(f"Error: unknown command {argv[0]!r} for \"ollama\"", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    os.umask(0o022)
    cli(sys.argv[1:])
