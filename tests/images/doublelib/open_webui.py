"""Contract double of Open WebUI: /health, data dir, and the configuration checks it makes."""
from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

from common import env, log, refuse, reply, serve

DATA = Path(env("DOUBLE_DATA_DIR", "/app/backend/data"))


def main() -> None:
    base = env("OLLAMA_BASE_URL")
    if base and not base.startswith(("http://", "https://")):
        refuse(f"OLLAMA_BASE_URL must be an http(s) URL, got {base!r}")
    engine = env("WEB_SEARCH_ENGINE") or env("RAG_WEB_SEARCH_ENGINE")
    if engine == "searxng" and "<query>" not in env("SEARXNG_QUERY_URL"):
        refuse("SEARXNG_QUERY_URL must contain <query>")
    DATA.mkdir(parents=True, exist_ok=True)
    key_file = DATA / ".webui_secret_key"
    if not env("WEBUI_SECRET_KEY"):
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(24))
        log("WEBUI_SECRET_KEY empty: using the key stored in the data volume")
    with sqlite3.connect(DATA / "webui.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY, data TEXT)")
    log(f"ollama={base or 'unset'} search={engine or 'off'}")

    def handle(request):
        if request.path == "/health":
            return reply(200, {"status": True})
        if request.path == "/api/config":
            return reply(200, {"name": env("WEBUI_NAME", "Open WebUI"), "status": True})
        if request.path == "/":
            return reply(200, "<!doctype html><title>Open WebUI (double)</title>",
                         {"Content-Type": "text/html"})
        return reply(404, {"detail": "Not Found"})

    serve(handle, 8080)


if __name__ == "__main__":
    main()
