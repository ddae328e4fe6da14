"""Contract double of searxng/searxng: reads /etc/searxng/settings.yml like SearXNG (defaults,
SEARXNG_* environment overrides, the ultrasecretkey refusal) and answers /healthz and /search.

The results are made up from the query: this stands in for the search engines on the internet,
not for anything the stack computes."""
from __future__ import annotations

import hashlib
import html as html_lib
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, quote

import yaml
from doublelib.common import env, html, listen_address, log, refuse, reply, serve, setup

CONFIG_FOLDER = Path("/etc/searxng")


def settings_file() -> Path:
    """Where SearXNG reads settings.yml: SEARXNG_SETTINGS_PATH (a file, or a folder holding settings.yml;
    one that does not exist is an error), else /etc/searxng/settings.yml (searxng/searxng @ 9fea41204
    searx/settings_loader.py:66-116 and 205-212)."""
    named = env("SEARXNG_SETTINGS_PATH")
    if not named:
        return CONFIG_FOLDER / "settings.yml"
    path = Path(named)
    if path.is_dir():
        return path / "settings.yml"
    if path.is_file():
        return path
    refuse(f"OSError: [Errno 1] {path} not exists!: '{path}'")


DEFAULTS: dict[str, dict[str, object]] = {
    "general": {"instance_name": "SearXNG", "debug": False},
    "search": {"safe_search": 0, "formats": ["html"]},
    "server": {"port": 8888, "bind_address": "127.0.0.1", "secret_key": "ultrasecretkey", "base_url": False,
               "limiter": False, "public_instance": False, "image_proxy": False, "method": "POST"},
    "ui": {},
}
ENV_OVERRIDES = {"SEARXNG_SECRET": ("server", "secret_key"), "SEARXNG_BASE_URL": ("server", "base_url"),
                 "SEARXNG_PORT": ("server", "port"), "SEARXNG_BIND_ADDRESS": ("server", "bind_address"),
                 "SEARXNG_LIMITER": ("server", "limiter"), "SEARXNG_PUBLIC_INSTANCE": ("server", "public_instance")}
FORMATS = {"html", "json", "csv", "rss"}


def load_settings() -> dict[str, dict[str, object]]:
    """settings.yml on top of the defaults (use_default_settings), then the environment."""
    settings_path = settings_file()
    if settings_path.is_file():
        try:
            user = yaml.safe_load(settings_path.read_text()) or {}
        except yaml.YAMLError as exc:
            refuse(f"ERROR: {settings_path} is not valid YAML: {str(exc).splitlines()[0]}")
        except OSError as exc:
            refuse(f"ERROR: cannot read {settings_path}: {exc.strerror}")
        if not isinstance(user, dict):
            refuse(f"ERROR: {settings_path} must be a YAML mapping")
        log(f"loaded {settings_path}")
    else:
        log(f"{settings_path} does not exist: using the defaults with a generated secret_key")
        user = {"use_default_settings": True, "server": {"secret_key": secrets.token_hex(32)}}
    settings: dict[str, dict[str, object]] = {k: dict(v) for k, v in DEFAULTS.items()} \
        if user.get("use_default_settings") else {k: {} for k in DEFAULTS}
    for section, values in user.items():
        if section == "use_default_settings":
            continue
        if isinstance(values, dict) and isinstance(settings.get(section), dict):
            settings[section].update(values)
        else:
            settings[section] = values  # type: ignore[assignment]
    for name, (section, key) in ENV_OVERRIDES.items():
        if name in os.environ:
            value: object = os.environ[name]
            if key in ("limiter", "public_instance"):
                value = str(value).lower() in ("1", "true")
            settings.setdefault(section, {})[key] = value
            log(f"{name} overrides {section}.{key}")
    return settings


def check(settings: dict[str, dict[str, object]]) -> list[str]:
    server, search = settings.get("server") or {}, settings.get("search") or {}
    secret = server.get("secret_key")
    if secret == "ultrasecretkey":
        refuse("server.secret_key is not changed. Please use something else instead of ultrasecretkey.")
    if not secret:
        log("WARNING: server.secret_key is empty")
    formats = search.get("formats") or ["html"]
    if not isinstance(formats, list) or not set(formats) <= FORMATS:
        refuse(f"ERROR: search.formats must be a list of {sorted(FORMATS)}, got {formats!r}")
    if server.get("limiter") or server.get("public_instance"):
        store = (settings.get("valkey") or {}).get("url") or (settings.get("redis") or {}).get("url")  # type: ignore[union-attr]
        if not store:
            refuse("The limiter requires Valkey, please consult the documentation: "
                   "https://docs.searxng.org/admin/searx.limiter.html")
    base_url = server.get("base_url")
    if base_url and not str(base_url).startswith(("http://", "https://")):
        refuse(f"ERROR: server.base_url must be an http(s) URL or false, got {base_url!r}")
    return [str(f) for f in formats]


def results_for(query: str, count: int = 5) -> list[dict[str, object]]:
    """Deterministic, made-up engine results for `query`."""
    slug = quote(query.lower().replace(" ", "-"), safe="-")
    seed = hashlib.sha256(query.encode()).hexdigest()
    out = []
    for i in range(count):
        url = f"https://example.org/{seed[i * 4:i * 4 + 8]}/{slug}"
        out.append({"url": url, "title": f"{query} - result {i + 1}",
                    "content": f"Made-up page {i + 1} about {query} (SearXNG contract double).",
                    "engine": "double", "engines": ["double"], "score": round(1.0 / (i + 1), 3),
                    "category": "general", "parsed_url": ["https", "example.org", url.split("example.org")[1]]})
    return out


def main() -> None:
    setup("searxng")
    settings = load_settings()
    formats = check(settings)
    server = settings["server"]
    bind_host = env("SEARXNG_BIND_ADDRESS") or "0.0.0.0"
    port = int(env("SEARXNG_PORT") or 8080)
    name = str((settings.get("general") or {}).get("instance_name") or "SearXNG")
    log(f"instance={name!r} formats={formats} limiter={server.get('limiter')} base_url={server.get('base_url')}")

    def handle(request):
        if request.path == "/healthz":
            return reply(200, "OK")
        if request.path == "/config":
            return reply(200, {"instance_name": name, "version": "2025.9.20-double", "formats": formats,
                               "engines": [{"name": "double", "categories": ["general"], "enabled": True}]})
        if request.path in ("/search", "/search/"):
            params = dict(request.query)
            if request.method == "POST":
                params.update(parse_qsl(request.body.decode(errors="replace")))
            output = params.get("format", "html")
            if output not in formats:
                log(f"search format {output!r} is not enabled in search.formats: 403")
                return reply(403, "Forbidden", {"Content-Type": "text/html; charset=utf-8"})
            query = params.get("q", "").strip()
            if not query:
                if output == "html":
                    return reply(302, b"", {"Location": "/"})
                return reply(400, {"error": "No query"})
            results = results_for(query)
            log(f"search format={output} -> {len(results)} results")
            if output == "json":
                return reply(200, {"query": query, "number_of_results": len(results), "results": results,
                                   "answers": [], "corrections": [], "infoboxes": [], "suggestions": [],
                                   "unresponsive_engines": []})
            if output == "csv":
                lines = ["title,url,content,engine"] + [f'"{r["title"]}",{r["url"]},"{r["content"]}",double'
                                                        for r in results]
                return reply(200, "\n".join(lines), {"Content-Type": "text/csv; charset=utf-8"})
            items = "".join(f'<article><a href="{r["url"]}">{html_lib.escape(str(r["title"]))}</a>'
                            f"<p>{html_lib.escape(str(r['content']))}</p></article>" for r in results)
            return html(200, f"<!doctype html><title>{html_lib.escape(query)} - {name}</title>{items}")
        if request.path == "/":
            return html(200, f"<!doctype html><title>{name}</title><form action=/search><input name=q></form>")
        return reply(404, "Not Found", {"Content-Type": "text/html; charset=utf-8"})

    serve(handle, port, listen_address(bind_host, port)[0], quiet=lambda r: r.path == "/healthz")


if __name__ == "__main__":
    main()
