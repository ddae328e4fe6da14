"""The Ollama double: streaming pull that persists, /api/tags from disk, the `ollama` CLI, config checks."""
from __future__ import annotations

import json

from tests.doubles.harness import call, free_port, run_cli


def _env(tmp_path, port: int, **extra: str) -> dict[str, str]:
    return {"DOUBLE_DATA_DIR": str(tmp_path / "ollama"), "OLLAMA_HOST": f"127.0.0.1:{port}", **extra}


def _pull(port: int, model: str) -> list[dict]:
    result = call("POST", port, "/api/pull", {"model": model, "stream": True})
    assert result.status == 200
    assert result.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in result.text.splitlines() if line.strip()]


def test_pull_streams_progress_and_persists_across_restarts(spawn, tmp_path):
    port = free_port()
    env = _env(tmp_path, port)
    ollama = spawn("ollama", "serve", env=env, port=port)
    assert ollama.get("/").text == "Ollama is running"
    assert ollama.request("HEAD", "/").status == 200
    assert ollama.get("/api/tags").json() == {"models": []}

    events = _pull(port, "tinyllama")
    statuses = [e["status"] for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    progress = [e for e in events if "total" in e]
    assert len(progress) >= 3
    for digest in {e["digest"] for e in progress}:
        layer = [e for e in progress if e["digest"] == digest]
        completed = [e["completed"] for e in layer]
        assert completed == sorted(completed) and completed[-1] == layer[0]["total"] > 0
        assert {e["status"] for e in layer} == {f"pulling {digest[7:19]}"}

    manifest = tmp_path / "ollama/models/manifests/registry.ollama.ai/library/tinyllama/latest"
    layers = json.loads(manifest.read_text())["layers"]
    for layer in layers:
        blob = tmp_path / "ollama/models/blobs" / layer["digest"].replace(":", "-")
        assert blob.stat().st_size == layer["size"]

    ollama.stop()
    ollama = spawn("ollama", "serve", env=env, port=port)
    models = ollama.get("/api/tags").json()["models"]
    assert [m["name"] for m in models] == ["tinyllama:latest"]
    assert set(models[0]) >= {"name", "model", "size", "digest", "modified_at"}
    log = [json.loads(line) for line in (tmp_path / "ollama/double-pulls.log").read_text().splitlines()]
    assert [entry["model"] for entry in log] == ["tinyllama"]


def test_missing_model_fails_in_stream_and_bad_names_are_refused(spawn, tmp_path):
    port = free_port()
    spawn("ollama", "serve", env=_env(tmp_path, port), port=port)
    events = _pull(port, "missing-model:7b")
    assert events[-1] == {"error": "pull model manifest: file does not exist"}
    bad = call("POST", port, "/api/pull", {"name": "Bad Name!", "stream": True})
    assert bad.status == 400 and bad.json() == {"error": "invalid model name"}
    assert call("GET", port, "/api/tags").json() == {"models": []}
    logged = (tmp_path / "ollama/double-pulls.log").read_text().splitlines()
    assert [json.loads(line)["model"] for line in logged] == ["missing-model:7b", "Bad Name!"]


def test_non_streaming_pull_show_and_delete(spawn, tmp_path):
    port = free_port()
    spawn("ollama", "serve", env=_env(tmp_path, port), port=port)
    done = call("POST", port, "/api/pull", {"model": "library/nomic-embed-text:v1.5", "stream": False})
    assert done.status == 200 and done.json() == {"status": "success"}
    assert [m["name"] for m in call("GET", port, "/api/tags").json()["models"]] == ["nomic-embed-text:v1.5"]
    assert call("POST", port, "/api/show", {"model": "nomic-embed-text:v1.5"}).status == 200
    assert call("DELETE", port, "/api/delete", {"model": "nomic-embed-text:v1.5"}).status == 200
    gone = call("DELETE", port, "/api/delete", {"model": "nomic-embed-text:v1.5"})
    assert gone.status == 404 and gone.json() == {"error": "model 'nomic-embed-text:v1.5' not found"}
    assert not list((tmp_path / "ollama/models/blobs").iterdir())


def test_cli_list_is_a_healthcheck(spawn, tmp_path):
    port = free_port()
    env = _env(tmp_path, port)
    down = run_cli("ollama", "list", env=env, home=tmp_path)
    assert down.returncode != 0 and "could not connect" in down.stderr
    spawn("ollama", "serve", env=env, port=port)
    assert run_cli("ollama", "pull", "tinyllama:latest", env=env, home=tmp_path).returncode == 0
    listed = run_cli("ollama", "list", env=env, home=tmp_path)
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[0].split() == ["NAME", "ID", "SIZE", "MODIFIED"]
    assert "tinyllama:latest" in listed.stdout
    assert run_cli("ollama", "--version", env=env, home=tmp_path).stdout.startswith("ollama version is ")
    failed = run_cli("ollama", "pull", "does-not-exist", env=env, home=tmp_path)
    assert failed.returncode == 1 and "file does not exist" in failed.stderr


def test_config_is_checked_at_start(tmp_path):
    port = free_port()
    result = run_cli("ollama", "serve", env=_env(tmp_path, port, OLLAMA_KV_CACHE_TYPE="q5_1"), home=tmp_path,
                     timeout=10)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "OLLAMA_KV_CACHE_TYPE" in result.stderr


def test_context_length_like_envconfig_uint(spawn, tmp_path):
    """ollama v0.32.15 envconfig/config.go:259-270: a bad value warns and falls back to 0 (automatic);
    server/routes.go:2044-2058 then logs the VRAM-based default (4096 without a GPU)."""
    for value in ("big", "0"):
        port = free_port()
        ollama = spawn("ollama", "serve", env=_env(tmp_path, port, OLLAMA_CONTEXT_LENGTH=value), port=port)
        output = ollama.output()
        assert "default_num_ctx=4096" in output
        assert ("invalid environment variable, using default" in output) == (value == "big")
        assert ollama.stop() == 0


def test_quantized_kv_cache_without_flash_attention_is_logged(spawn, tmp_path):
    port = free_port()
    ollama = spawn("ollama", "serve", env=_env(tmp_path, port, OLLAMA_KV_CACHE_TYPE="q8_0",
                                                OLLAMA_FLASH_ATTENTION="0", OLLAMA_CONTEXT_LENGTH="8192"), port=port)
    assert "quantized kv cache requested but flash attention disabled" in ollama.output()
    assert ollama.stop() == 0


def test_never_ready_variant_never_answers_ready(spawn, tmp_path):
    port = free_port()
    env = _env(tmp_path, port, OLLAMA_DOUBLE_NEVER_READY="1")
    ollama = spawn("ollama", "serve", env=env, port=port)
    assert ollama.get("/").status == 503
    assert run_cli("ollama", "list", env=env, home=tmp_path).returncode != 0


def test_chat_streams_a_fixed_reply_for_a_pulled_model_only(spawn, tmp_path):
    port = free_port()
    ollama = spawn("ollama", "serve", env=_env(tmp_path, port), port=port)
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"},
                {"role": "user", "content": "again"}]
    missing = call("POST", port, "/api/chat", {"model": "tinyllama", "messages": messages})
    assert missing.status == 404 and "not found" in missing.json()["error"]
    _pull(port, "tinyllama")
    _pull(port, "nomic-embed-text")
    streamed = call("POST", port, "/api/chat", {"model": "tinyllama", "messages": messages})
    assert streamed.status == 200 and streamed.headers["content-type"] == "application/x-ndjson"
    parts = [json.loads(line) for line in streamed.text.splitlines() if line.strip()]
    assert [p["done"] for p in parts][-1] is True and not any(p["done"] for p in parts[:-1])
    assert parts[-1]["done_reason"] == "stop"
    text = "".join(p["message"]["content"] for p in parts)
    assert text == "Hello from the Ollama double (turn 2): again"
    whole = call("POST", port, "/api/chat", {"model": "tinyllama", "messages": messages, "stream": False})
    assert whole.json()["message"] == {"role": "assistant", "content": text} and whole.json()["done"] is True
    embed = call("POST", port, "/api/chat", {"model": "nomic-embed-text", "messages": messages})
    assert embed.status == 400 and embed.json()["error"] == '"nomic-embed-text" does not support chat'
    ollama.stop()
