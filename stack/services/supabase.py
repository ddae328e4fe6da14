"""The Supabase set: the core services always, the `full` ones with SUPABASE_SERVICES=full.

Kong is the gateway users reach (API and Studio); its probe carries the anon key, and its
after-ready step proves the generated keys work through it.
"""
from __future__ import annotations

from stack.services.base import Probe, Service, Site


def _core(name: str, title: str, image: str, **kw: object) -> Service:
    return Service(name, title, f"supabase/{name}", image_key=f"SUPABASE_{image}_IMAGE", supabase="core",
                   **kw)  # type: ignore[arg-type]


def _full(name: str, title: str, image: str, **kw: object) -> Service:
    return Service(name, title, f"supabase/{name}", image_key=f"SUPABASE_{image}_IMAGE", supabase="full",
                   **kw)  # type: ignore[arg-type]


KONG = _core("kong", "Supabase API + Studio", "KONG", port=8000, port_key="SUPABASE_PORT",
             hostname_key="SUPABASE_HOSTNAME", site=Site("supabase", required=True),
             probe=Probe("/auth/v1/health", headers=(("apikey", "ANON_KEY"),)), after_ready="supabase.prove_keys",
             note="Studio login: {DASHBOARD_USERNAME} / DASHBOARD_PASSWORD from .env")
DB = _core("db", "Supabase Postgres", "DB", port=5432, port_key="POSTGRES_PORT", volumes=("db_data", "db_config"),
           database=True, note="password: POSTGRES_PASSWORD in .env",
           private_link="postgresql://postgres@127.0.0.1:{POSTGRES_PORT}/{POSTGRES_DB}")

SERVICES: tuple[Service, ...] = (
    KONG,
    DB,
    _core("auth", "Supabase Auth", "AUTH", port=9999),
    _core("rest", "Supabase REST", "REST", port=3000),
    _core("realtime", "Supabase Realtime", "REALTIME"),
    _core("storage", "Supabase Storage", "STORAGE", port=5000, volumes=("storage_data",)),
    _core("imgproxy", "Supabase imgproxy", "IMGPROXY", port=5001),
    _core("meta", "Supabase pg-meta", "META", port=8080),
    _core("studio", "Supabase Studio", "STUDIO", port=3000),
    _full("analytics", "Supabase Analytics", "ANALYTICS", port=4000),
    _full("vector", "Supabase log collector", "VECTOR", port=9001),
    _full("functions", "Supabase Edge Functions", "FUNCTIONS", port=9000, volumes=("functions_cache",)),
    _full("supavisor", "Supabase pooler", "POOLER"),
)
