"""Contract double of SearXNG: refuses the default secret, 403s json unless enabled, /healthz."""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from common import env, log, refuse, reply, serve

SETTINGS = Path(env("SEARXNG_SETTINGS_PATH", "/etc/searxng/settings.yml"))


def main() -> None:
    try:
        settings = yaml.safe_load(SETTINGS.read_text()) if SETTINGS.exists() else {}
    except yaml.YAMLError as exc:
        refuse(f"invalid settings.yml: {exc}")
    settings = settings or {}
    server = settings.get("server") or {}
    secret = env("SEARXNG_SECRET") or server.get("secret_key", "ultrasecretkey")
    if secret == "ultrasecretkey":
        refuse("server.secret_key is not changed. Please use something else instead of ultrasecretkey.")
    formats = (settings.get("search") or {}).get("formats") or ["html"]
    base_url = env("SEARXNG_BASE_URL") or server.get("base_url")
    log(f"formats={formats} limiter={server.get('limiter')} base_url={base_url}")

    def handle(request):
        if request.path == "/healthz":
            return reply(200, "OK")
        if request.path == "/search":
            fmt = request.query.get("format", "html")
            if fmt not in formats:
                return reply(403, "403 Forbidden")
            query = request.query.get("q", "")
            results = [{"url": f"https://example.org/{hashlib.sha1(f'{query}{i}'.encode()).hexdigest()[:8]}",
                        "title": f"Result {i} for {query}", "content": f"About {query}.", "engine": "double"}
                       for i in range(3)]
            if fmt == "json":
                return reply(200, {"query": query, "number_of_results": len(results), "results": results})
            return reply(200, "<html>" + "".join(r["title"] for r in results) + "</html>",
                         {"Content-Type": "text/html"})
        if request.path == "/":
            return reply(200, "<html>SearXNG (double)</html>", {"Content-Type": "text/html"})
        return reply(404, "Not Found")

    serve(handle, int(str(server.get("port", 8080))))


if __name__ == "__main__":
    main()
