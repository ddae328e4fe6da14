"""Contract double of ghcr.io/open-webui/open-webui: /health, /api/config and the start-up
behaviour the stack relies on (secret key file, webui.db with persistent config in the volume)."""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from pathlib import Path

from doublelib.common import env, html, is_http_url, log, refuse, reply, serve, setup

VERSION = "0.6.36-double"
DATA = Path(env("DATA_DIR", "/app/backend/data"))
KEY_FILE = Path(env("WEBUI_SECRET_KEY_FILE") or DATA / ".webui_secret_key")
PERSISTENT = ("ENABLE_SIGNUP", "ENABLE_WEB_SEARCH", "WEB_SEARCH_ENGINE", "SEARXNG_QUERY_URL", "OLLAMA_BASE_URLS",
              "RAG_EMBEDDING_ENGINE", "RAG_EMBEDDING_MODEL")


def flag(name: str, default: str = "false") -> bool:
    """Open WebUI reads booleans as `value.lower() == "true"`."""
    return env(name, default).lower() == "true"


def check_config() -> dict[str, object]:
    """What Open WebUI needs to work with the stack; refuse what would break it silently."""
    urls = [u.strip() for u in (env("OLLAMA_BASE_URLS") or env("OLLAMA_BASE_URL")).split(";") if u.strip()]
    for name in ("OLLAMA_BASE_URL", "OLLAMA_BASE_URLS", "RAG_OLLAMA_BASE_URL"):
        for url in filter(None, (u.strip() for u in env(name).split(";"))):
            if not is_http_url(url):
                refuse(f"{name} must be an http(s) URL, got {url!r}")
    search = flag("ENABLE_WEB_SEARCH") or flag("ENABLE_RAG_WEB_SEARCH")
    engine = env("WEB_SEARCH_ENGINE") or env("RAG_WEB_SEARCH_ENGINE")
    if env("WEB_SEARCH_ENGINE") and env("RAG_WEB_SEARCH_ENGINE") and env("WEB_SEARCH_ENGINE") != \
            env("RAG_WEB_SEARCH_ENGINE"):
        log("WEB_SEARCH_ENGINE and RAG_WEB_SEARCH_ENGINE differ; WEB_SEARCH_ENGINE wins")
    query_url = env("SEARXNG_QUERY_URL")
    if search and engine == "searxng":
        if "<query>" not in query_url:
            refuse(f"SEARXNG_QUERY_URL must contain <query> when web search uses searxng, got {query_url!r}")
        if not is_http_url(query_url):
            refuse(f"SEARXNG_QUERY_URL must be an http(s) URL, got {query_url!r}")
    if search and not engine:
        log("web search is enabled but no engine is chosen (WEB_SEARCH_ENGINE)")
    return {"ENABLE_SIGNUP": flag("ENABLE_SIGNUP", "true"), "ENABLE_WEB_SEARCH": search, "WEB_SEARCH_ENGINE": engine,
            "SEARXNG_QUERY_URL": query_url, "OLLAMA_BASE_URLS": urls or ["http://host.docker.internal:11434"],
            "RAG_EMBEDDING_ENGINE": env("RAG_EMBEDDING_ENGINE"), "RAG_EMBEDDING_MODEL": env("RAG_EMBEDDING_MODEL")}


def secret_key() -> None:
    """Like start.sh: with no WEBUI_SECRET_KEY, generate one once and keep it in the data volume."""
    if env("WEBUI_SECRET_KEY") or env("WEBUI_JWT_SECRET_KEY"):
        log("using WEBUI_SECRET_KEY from the environment")
        return
    if KEY_FILE.is_file() and KEY_FILE.read_text().strip():
        log(f"using the secret key stored in {KEY_FILE}")
        return
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEY_FILE.write_text(secrets.token_urlsafe(12))
    KEY_FILE.chmod(0o600)
    log(f"WEBUI_SECRET_KEY is empty: generated one into {KEY_FILE}")


def open_db(env_config: dict[str, object]) -> dict[str, object]:
    """webui.db: created on first start; persistent config is saved then and wins afterwards."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / "webui.db"
    new = not path.exists()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY, data TEXT NOT NULL, "
                   "version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER)")
        db.execute("CREATE TABLE IF NOT EXISTS user (id TEXT PRIMARY KEY, email TEXT, role TEXT)")
        row = db.execute("SELECT data FROM config WHERE id = 1").fetchone()
        if row is None:
            db.execute("INSERT INTO config (id, data, version, created_at) VALUES (1, ?, 0, ?)",
                       (json.dumps(env_config), int(time.time())))
            stored = dict(env_config)
        else:
            stored = {**env_config, **json.loads(row[0])}
    log(f"{'created' if new else 'opened'} {path}")
    if env("ENABLE_PERSISTENT_CONFIG", "true").lower() != "true":
        return env_config
    for key in PERSISTENT:
        if stored.get(key) != env_config.get(key):
            log(f"persistent config: {key} keeps the value saved in webui.db; the environment value is ignored")
    return stored


def main() -> None:
    setup("open-webui")
    env_config = check_config()
    secret_key()
    config = open_db(env_config)
    name = env("WEBUI_NAME", "Open WebUI")
    if name != "Open WebUI":
        name += " (Open WebUI)"
    log(f"ollama={config['OLLAMA_BASE_URLS']} web_search={config['ENABLE_WEB_SEARCH']} "
        f"engine={config['WEB_SEARCH_ENGINE'] or '-'}")

    def handle(request):
        if request.method not in ("GET", "HEAD"):
            return reply(405, {"detail": "Method Not Allowed"})
        if request.path == "/health":
            return reply(200, {"status": True})
        if request.path == "/health/db":
            with sqlite3.connect(DATA / "webui.db") as db:
                db.execute("SELECT 1").fetchone()
            return reply(200, {"status": True})
        if request.path == "/api/version":
            return reply(200, {"version": VERSION})
        if request.path == "/api/config":
            with sqlite3.connect(DATA / "webui.db") as db:
                users = db.execute("SELECT count(*) FROM user").fetchone()[0]
            return reply(200, {"status": True, "name": name, "version": VERSION, "default_locale": "",
                               "onboarding": users == 0,
                               "features": {"auth": True, "enable_signup": config["ENABLE_SIGNUP"],
                                            "enable_web_search": config["ENABLE_WEB_SEARCH"],
                                            "enable_login_form": True}})
        if request.path in ("/", "/auth"):
            return html(200, f"<!doctype html><html><head><title>{name}</title></head>"
                             "<body><div id=app>Open WebUI (contract double)</div></body></html>")
        return reply(404, {"detail": "Not Found"})

    serve(handle, int(env("PORT", "8080")), env("HOST", "0.0.0.0"), quiet=lambda r: r.path == "/health")


if __name__ == "__main__":
    main()
