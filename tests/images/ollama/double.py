"""Contract double of ollama/ollama: the `ollama` CLI (serve, list, pull, rm, --version) and the
HTTP API the stack uses. Pulls write small real manifests and blobs where Ollama keeps them, so a
model persists in the volume; every pull request is recorded in double-pulls.log for the tests."""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from doublelib.common import env, go_bool, listen_address, log, ndjson, refuse, reply, serve, setup, urlopen

VERSION = "0.32.15-double"
DATA = Path(env("DOUBLE_DATA_DIR", "/root/.ollama"))
MODELS = Path(env("OLLAMA_MODELS") or DATA / "models")
PULL_LOG = DATA / "double-pulls.log"
NEVER_READY = env("OLLAMA_DOUBLE_NEVER_READY") == "1"
KV_TYPES = ("f16", "q8_0", "q4_0")
MISSING = ("missing", "does-not-exist")
HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,349}")
PART_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
DEFAULT_HOST, DEFAULT_NAMESPACE = "registry.ollama.ai", "library"


@dataclass(frozen=True)
class Name:
    """[host/][namespace/]model[:tag], with Ollama's defaults."""

    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, text: str) -> Name | None:
        text = text.strip()
        tag = "latest"
        slash = text.rfind("/")
        colon = text.rfind(":")
        if colon > slash:
            text, tag = text[:colon], text[colon + 1:]
        parts = text.split("/")
        if not 1 <= len(parts) <= 3:
            return None
        model = parts[-1]
        namespace = parts[-2] if len(parts) >= 2 else DEFAULT_NAMESPACE
        host = parts[0] if len(parts) == 3 else DEFAULT_HOST
        ok = (HOST_RE.fullmatch(host) and PART_RE.fullmatch(namespace) and PART_RE.fullmatch(model)
              and TAG_RE.fullmatch(tag))
        return cls(host, namespace, model, tag) if ok else None

    @property
    def display(self) -> str:
        """What `ollama list` and /api/tags show: the shortest unambiguous form."""
        if self.host == DEFAULT_HOST and self.namespace == DEFAULT_NAMESPACE:
            return f"{self.model}:{self.tag}"
        if self.host == DEFAULT_HOST:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def manifest(self) -> Path:
        return MODELS / "manifests" / self.host / self.namespace / self.model / self.tag


def blob_path(digest: str) -> Path:
    return MODELS / "blobs" / digest.replace(":", "-")


def _pseudo_random(seed: str, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _layers(name: Name) -> list[tuple[str, bytes]]:
    """The made-up but real files of a model: weights (64-128 KiB), template, params."""
    seed = name.display
    size = 65536 + int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16)
    return [("application/vnd.ollama.image.model", _pseudo_random(seed, size)),
            ("application/vnd.ollama.image.template", b"{{ .System }}\n{{ .Prompt }}"),
            ("application/vnd.ollama.image.params", json.dumps({"stop": ["</s>"]}).encode())]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    tmp.write_bytes(data)
    tmp.replace(path)


def _read_manifest(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def installed() -> list[dict[str, object]]:
    """/api/tags, read from the manifests on disk (so it survives restarts, like Ollama)."""
    root = MODELS / "manifests"
    models = []
    for path in sorted(root.glob("*/*/*/*")) if root.exists() else []:
        data = _read_manifest(path)
        if not path.is_file() or data is None:
            continue
        rel = path.relative_to(root).parts
        name = Name(rel[0], rel[1], rel[2], rel[3])
        layers = [data.get("config") or {}, *(data.get("layers") or [])]
        size = sum(int(layer.get("size", 0)) for layer in layers if isinstance(layer, dict))
        raw = path.read_bytes()
        models.append({"name": name.display, "model": name.display, "size": size,
                       "digest": hashlib.sha256(raw).hexdigest(),
                       "modified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime)),
                       "details": {"format": "gguf", "family": "double", "parameter_size": "0B",
                                   "quantization_level": "Q4_0"}})
    return models


def _record_pull(raw: str, stream: bool) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "model": raw, "stream": stream})
    with PULL_LOG.open("a") as handle:
        handle.write(line + "\n")


def pull_events(name: Name) -> Iterator[dict[str, object]]:
    """Ollama's pull progress stream; writes the blobs and then the manifest."""
    yield {"status": "pulling manifest"}
    time.sleep(0.05)
    if name.model.startswith(MISSING):
        log(f"pull {name.display}: no such model in the registry")
        yield {"error": "pull model manifest: file does not exist"}
        return
    entries = []
    for media_type, data in _layers(name):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        total = len(data)
        for step in range(1, 6):
            yield {"status": f"pulling {digest[7:19]}", "digest": digest, "total": total,
                   "completed": total * step // 5}
            time.sleep(0.02)
        _write(blob_path(digest), data)
        entries.append({"mediaType": media_type, "digest": digest, "size": total})
    config = json.dumps({"model_format": "gguf", "model_family": "double"}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    _write(blob_path(config_digest), config)
    yield {"status": "verifying sha256 digest"}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "digest": config_digest, "size": len(config)},
                "layers": entries}
    yield {"status": "writing manifest"}
    _write(name.manifest, json.dumps(manifest).encode())
    log(f"pull {name.display}: success")
    yield {"status": "success"}


def _requested(body: object) -> str:
    if not isinstance(body, dict):
        return ""
    return str(body.get("model") or body.get("name") or "")


def _prune_blobs() -> None:
    """Remove blobs no manifest refers to any more (Ollama does this after a delete)."""
    used = set()
    for path in (MODELS / "manifests").glob("*/*/*/*"):
        data = _read_manifest(path) or {}
        for layer in [data.get("config") or {}, *(data.get("layers") or [])]:
            if isinstance(layer, dict) and layer.get("digest"):
                used.add(str(layer["digest"]).replace(":", "-"))
    for blob in (MODELS / "blobs").glob("sha256-*"):
        if blob.name not in used:
            blob.unlink(missing_ok=True)


def fixed_reply(messages: list[object]) -> str:
    """The double runs no model: a fixed answer that shows which turn of the chat it saw."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    last = str(users[-1].get("content", "")) if users else ""
    return f"Hello from the Ollama double (turn {len(users)}): {last}"


def _chat(body: object, raw: str):
    """POST /api/chat as ollama v0.32.15 answers it: ChatResponse objects (api/types.go:520-556,
    Metrics :557-564), streamed as NDJSON unless "stream": false; an embedding model cannot chat
    (server/routes.go:2634-2637). Tool capability is not modelled: the double has no templates."""
    body = body if isinstance(body, dict) else {}
    messages = body.get("messages")
    if not isinstance(messages, list):
        return reply(400, {"error": "messages is required"})
    if "embed" in raw or "minilm" in raw:
        return reply(400, {"error": f"{raw!r} does not support chat".replace("'", '"')})
    text = fixed_reply(messages)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    words = text.split(" ")
    final = {"model": raw, "created_at": stamp, "message": {"role": "assistant", "content": ""}, "done": True,
             "done_reason": "stop", "total_duration": 1_000_000, "eval_count": len(words)}
    if body.get("stream") is False:
        return reply(200, {**final, "message": {"role": "assistant", "content": text}})
    parts = [{"model": raw, "created_at": stamp, "message": {"role": "assistant",
                                                            "content": w + (" " if i < len(words) - 1 else "")},
              "done": False} for i, w in enumerate(words)]
    return ndjson([*parts, final])


def handle(request):
    if NEVER_READY:
        return reply(503, {"error": "server is still loading (planted fault: it never becomes ready)"})
    method, path = request.method, request.path
    if path == "/" and method in ("GET", "HEAD"):
        return reply(200, "Ollama is running")
    if path == "/api/version" and method in ("GET", "HEAD"):
        return reply(200, {"version": VERSION})
    if path == "/api/tags" and method in ("GET", "HEAD"):
        return reply(200, {"models": installed()})
    if path == "/api/ps" and method == "GET":
        return reply(200, {"models": []})
    if path == "/api/pull" and method == "POST":
        body = request.json()
        raw = _requested(body)
        stream = not (isinstance(body, dict) and body.get("stream") is False)
        _record_pull(raw, stream)
        name = Name.parse(raw)
        if name is None:
            log(f"pull {raw!r}: invalid model name")
            return reply(400, {"error": "invalid model name"})
        log(f"pull {name.display} (stream={stream})")
        if stream:
            return ndjson(pull_events(name))
        last = [event for event in pull_events(name)][-1]
        return reply(500, last) if "error" in last else reply(200, last)
    if path == "/api/delete" and method == "DELETE":
        raw = _requested(request.json())
        name = Name.parse(raw)
        if name is None:
            return reply(400, {"error": f"name {raw!r} is invalid"})
        if not name.manifest.is_file():
            return reply(404, {"error": f"model '{raw}' not found"})
        name.manifest.unlink()
        _prune_blobs()
        log(f"deleted {name.display}")
        return reply(200)
    if path == "/api/show" and method == "POST":
        raw = _requested(request.json())
        name = Name.parse(raw)
        found = [m for m in installed() if name and m["name"] == name.display]
        if not found:
            return reply(404, {"error": f"model '{raw}' not found"})
        return reply(200, {"license": "", "modelfile": f"# Modelfile of {name.display} (double)\nFROM {name.display}\n",
                           "parameters": 'stop "</s>"', "template": "{{ .System }}\n{{ .Prompt }}",
                           "details": found[0]["details"], "model_info": {"general.architecture": "double"},
                           "modified_at": found[0]["modified_at"]})
    if path in ("/api/generate", "/api/chat", "/api/embed", "/api/embeddings") and method == "POST":
        body = request.json()
        raw = _requested(body)
        name = Name.parse(raw)
        if not name or not name.manifest.is_file():
            return reply(404, {"error": f"model \"{raw}\" not found, try pulling it first"})
        if path == "/api/chat":
            return _chat(body, raw)
        return reply(501, {"error": "the Ollama contract double does not run models"})
    return reply(404, "404 page not found")


def check_config() -> tuple[str, int]:
    """Ollama's envconfig, strict where a wrong value would silently change behaviour."""
    try:
        host, port = listen_address(env("OLLAMA_HOST", "127.0.0.1:11434"), 11434)
    except ValueError:
        refuse(f"Error: invalid OLLAMA_HOST {env('OLLAMA_HOST')!r}")
    kv = env("OLLAMA_KV_CACHE_TYPE")
    if kv not in ("", *KV_TYPES):
        refuse(f"Error: invalid OLLAMA_KV_CACHE_TYPE {kv!r}: must be one of {', '.join(KV_TYPES)}")
    # envconfig.Uint (ollama/ollama v0.32.15 envconfig/config.go:259-270): a value that is not an unsigned
    # integer is logged and the default (0 = automatic) used; 0 means the VRAM-based default
    # (server/routes.go:2044-2058: 4096 below 23 GiB of VRAM, 32768 below 47 GiB, else 262144).
    context = env("OLLAMA_CONTEXT_LENGTH")
    if context and not context.isdigit():
        log(f'level=WARN msg="invalid environment variable, using default" key=OLLAMA_CONTEXT_LENGTH '
            f'value={context} default=0')
        context = ""
    if not context or int(context) == 0:
        context = ""
        log('level=INFO msg="vram-based default context" total_vram="0 B" default_num_ctx=4096')
    flash_raw = env("OLLAMA_FLASH_ATTENTION")
    flash = go_bool(flash_raw) if flash_raw else False
    if flash is None:
        log(f"OLLAMA_FLASH_ATTENTION={flash_raw!r} is not a boolean; Ollama reads that as true")
        flash = True
    log(f'level=INFO msg="server config" OLLAMA_HOST={host}:{port} OLLAMA_FLASH_ATTENTION={str(flash).lower()} '
        f"OLLAMA_KV_CACHE_TYPE={kv or 'f16'} OLLAMA_CONTEXT_LENGTH={context or 'default'} "
        f"OLLAMA_KEEP_ALIVE={env('OLLAMA_KEEP_ALIVE') or '5m'} OLLAMA_MODELS={MODELS}")
    if kv in ("q8_0", "q4_0") and not flash:
        log(f'level=WARN msg="quantized kv cache requested but flash attention disabled" type={kv}')
    return host, port


def _client_url(path: str) -> str:
    host, port = listen_address(env("OLLAMA_HOST", "127.0.0.1:11434"), 11434)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}{path}"


def _call(method: str, path: str, body: object = None, timeout: float = 10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(_client_url(path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    return urlopen(request, timeout)


def _fail(exc: Exception) -> None:
    if isinstance(exc, urllib.error.HTTPError):
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        print(f"Error: {message}", file=sys.stderr)
    else:
        print("Error: could not connect to ollama app, is it running?", file=sys.stderr)
    sys.exit(1)


def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(size)


def cli(argv: list[str]) -> None:
    command = argv[0] if argv else "help"
    if command == "serve":
        host, port = check_config()
        if NEVER_READY:
            log("planted fault: this Ollama never becomes ready")
        serve(handle, port, host, quiet=lambda r: r.path in ("/", "/api/tags", "/api/version"))
    if command in ("--version", "-v", "version"):
        try:
            with _call("GET", "/api/version", timeout=3) as response:
                print(f"ollama version is {json.load(response)['version']}")
        except (OSError, ValueError, KeyError):
            print("Warning: could not connect to a running Ollama instance")
            print(f"Warning: client version is {VERSION}")
        return
    if command in ("list", "ls"):
        try:
            with _call("GET", "/api/tags", timeout=5) as response:
                models = json.load(response)["models"]
        except (OSError, ValueError, KeyError) as exc:
            _fail(exc)
        rows = [("NAME", "ID", "SIZE", "MODIFIED")]
        rows += [(m["name"], str(m["digest"])[:12], _human(int(m["size"])), str(m["modified_at"])) for m in models]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("    ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        return
    if command == "pull" and len(argv) == 2:
        try:
            with _call("POST", "/api/pull", {"model": argv[1], "stream": True}, timeout=600) as response:
                for line in response:
                    event = json.loads(line)
                    if "error" in event:
                        print(f"Error: {event['error']}", file=sys.stderr)
                        sys.exit(1)
                    done = f" {100 * event['completed'] // event['total']}%" if event.get("total") else ""
                    print(f"{event.get('status')}{done}")
        except (OSError, ValueError) as exc:
            _fail(exc)
        return
    if command == "rm" and len(argv) >= 2:
        for model in argv[1:]:
            try:
                _call("DELETE", "/api/delete", {"model": model}).close()
            except OSError as exc:
                _fail(exc)
            print(f"deleted '{model}'")
        return
    if command in ("help", "--help", "-h"):
        print("Usage:\n  ollama [command]\n\nAvailable Commands:\n  serve  list  pull  rm  --version")
        return
    print(f'Error: unknown command "{command}" for "ollama"', file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    setup("ollama")
    cli(sys.argv[1:])
