"""Contract double of supabase/studio (self-hosted): binds HOSTNAME ("::" or "0.0.0.0") on PORT,
answers the profile endpoint the healthcheck polls and the dashboard pages; warns, as Studio's
pages would fail, when its keys or URLs do not fit together."""
from __future__ import annotations

import html as html_lib
import ipaddress
import socket

from doublelib.common import JWTError, env, html, is_http_url, jwt_verify, log, reply, serve, setup


def check_config() -> None:
    """Studio starts regardless; these are the settings its pages need to work."""
    for name in ("STUDIO_PG_META_URL", "SUPABASE_URL", "SUPABASE_PUBLIC_URL"):
        if not is_http_url(env(name)):
            log(f"WARNING: {name} is not an http(s) URL ({env(name)!r}); Studio pages that use it will fail")
    secret = env("AUTH_JWT_SECRET")
    for name, role in (("SUPABASE_ANON_KEY", "anon"), ("SUPABASE_SERVICE_KEY", "service_role")):
        try:
            claims = jwt_verify(env(name), secret)
        except JWTError as exc:
            log(f"WARNING: {name} does not verify with AUTH_JWT_SECRET ({exc.reason})")
            continue
        if claims.get("role") != role:
            log(f"WARNING: {name} carries role {claims.get('role')!r}, expected {role}")
    if not env("PG_META_CRYPTO_KEY"):
        log("WARNING: PG_META_CRYPTO_KEY is empty; postgres-meta will not read Studio's connection strings")


def main() -> None:
    setup("studio")
    check_config()
    organization = env("DEFAULT_ORGANIZATION_NAME", "Default Organization")
    project = env("DEFAULT_PROJECT_NAME", "Default Project")
    profile = {"id": 1, "primary_email": "admin@localhost", "username": "supabase", "first_name": "",
               "last_name": "", "organizations": [{"id": 1, "slug": "default-org-slug", "name": organization,
                                                   "projects": [{"id": 1, "ref": "default", "name": project,
                                                                 "status": "ACTIVE_HEALTHY"}]}]}

    def handle(request):
        if request.path == "/api/platform/profile":
            return reply(200, profile)
        if request.path == "/":
            return reply(307, b"", {"Location": "/project/default"})
        if request.path.startswith("/project/"):
            return html(200, f"<!doctype html><title>{html_lib.escape(project)} | Supabase</title>"
                             "<div id=__next>Supabase Studio (contract double)</div>")
        return reply(404, {"message": "not implemented by the Studio contract double"})

    host = env("HOSTNAME") or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Next.js binds the address HOSTNAME resolves to; Docker sets it to the container id, so
        # without HOSTNAME=:: or 0.0.0.0 Studio does not answer on localhost (nor does this double).
        resolved = socket.gethostbyname(host)
        log(f"HOSTNAME={host!r} is a name: binding the address it resolves to, {resolved}")
        host = resolved
    serve(handle, int(env("PORT", "3000")), host, quiet=lambda r: r.path == "/api/platform/profile")


if __name__ == "__main__":
    main()
