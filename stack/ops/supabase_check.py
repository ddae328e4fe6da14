"""After `up`: prove with supabase-py, through the gateway, that the API keys work as they should.

anon key -> accepted, and the database sees role anon (limited by grants and RLS);
service-role key -> accepted as service_role; a key signed with another secret -> refused.
"""
from __future__ import annotations

from dataclasses import dataclass

from stack.config.generators import random_alnum, sign_api_key
from stack.config.settings import Settings
from stack.engines import runner
from stack.errors import StackError
from stack.services import supabase

WHOAMI = "localai_whoami"
# What the gateway (Kong key-auth) and PostgREST answer when they reject a key. Kong 3.x says
# "Unauthorized" for an unknown key (kong/plugins/key-auth/handler.lua:31 @ 3.9.3); 2.8 said
# "Invalid authentication credentials".
REFUSALS = ("Invalid authentication credentials", "Unauthorized", "No API key found", "JWSError", "JWT")


@dataclass(frozen=True)
class KeyCheck:
    key: str
    expected: str   # role the database must see, or "refused"
    observed: str


def gateway_url(settings: Settings) -> str:
    if settings.public:
        return f"https://{settings['SUPABASE_HOSTNAME']}"
    return supabase.KONG.private_url(settings)


def direct_gateway_url(container_id: str) -> str:
    """Kong on its container address, for public mode with Caddy's internal CA (no public DNS)."""
    result = runner.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                         container_id], timeout=30)
    addresses = result.stdout.split()
    if not addresses:
        raise StackError("the Supabase gateway container has no network address yet")
    return f"http://{addresses[0]}:{supabase.KONG.port}"


def _role_for(url: str, key: str, bearer: str | None = None) -> str:
    """What role the database runs our probe function as for `key`, or 'refused'.

    `bearer` sends another token in Authorization than the apikey Kong checks: PostgREST must
    judge that token on its own signature.
    """
    # imported here, not at the top: the supabase client takes about 0.4 s to import and only
    # `supabase check` needs it (no import cycle is involved)
    from postgrest.exceptions import APIError
    from supabase import create_client

    try:
        client = create_client(url, key)
        if bearer:
            client.postgrest.auth(bearer)
        response = client.rpc(WHOAMI).execute()
    except APIError as exc:
        code = str(getattr(exc, "code", "") or "")
        message = str(getattr(exc, "message", "") or exc)
        if code in ("401", "403", "PGRST301", "PGRST302") or any(text in message for text in REFUSALS):
            return "refused"
        return f"error: {message}"
    except Exception as exc:  # noqa: BLE001 - httpx/json errors: report, don't crash
        return f"error: {type(exc).__name__}"
    data = response.data
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = next(iter(data[0].values()))
    return str(data)


def verify_keys(settings: Settings, url: str | None = None) -> list[KeyCheck]:
    url = url or gateway_url(settings)
    forged = sign_api_key("service_role", random_alnum(48))
    return [
        KeyCheck("ANON_KEY", "anon", _role_for(url, settings["ANON_KEY"])),
        KeyCheck("SERVICE_ROLE_KEY", "service_role", _role_for(url, settings["SERVICE_ROLE_KEY"])),
        KeyCheck("a key signed with another secret", "refused", _role_for(url, forged)),
        KeyCheck("a forged Bearer token beside a valid apikey", "refused",
                 _role_for(url, settings["ANON_KEY"], bearer=forged)),
    ]


def require_keys_work(settings: Settings, url: str | None = None) -> list[KeyCheck]:
    """Raise unless every key maps to its role; `url` overrides the gateway address."""
    checks = verify_keys(settings, url)
    for check in checks:
        if check.observed != check.expected:
            if check.expected == "refused":
                raise StackError(f"Supabase accepted {check.key}, NOT signed with JWT_SECRET (got {check.observed}); "
                                 "the gateway or PostgREST is misconfigured")
            raise StackError(
                f"Supabase check failed for {check.key}: expected role {check.expected}, got {check.observed}",
                hint=f"{check.key} must be a JWT signed with JWT_SECRET; blank {check.key} in .env and run "
                     "start.py again to re-sign it, or `python start.py secrets rotate JWT_SECRET`")
    return checks
