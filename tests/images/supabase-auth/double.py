"""Contract double of supabase/gotrue: refuses a configuration GoTrue refuses, then retries the
database until it can connect as its admin role and write its migrations table in the auth schema;
only then does it listen, so /health answers once the real database works for it."""
from __future__ import annotations

import time

from doublelib.common import Pg, env, go_bool, is_http_url, log, on_stop, psql, refuse, reply, serve, setup

VERSION = "v2.196.0-double"
REQUIRED = ("API_EXTERNAL_URL", "GOTRUE_SITE_URL", "GOTRUE_JWT_SECRET", "GOTRUE_DB_DRIVER")
INTEGERS = ("GOTRUE_API_PORT", "GOTRUE_JWT_EXP")
BOOLEANS = ("GOTRUE_DISABLE_SIGNUP", "GOTRUE_MAILER_AUTOCONFIRM", "GOTRUE_EXTERNAL_EMAIL_ENABLED",
            "GOTRUE_EXTERNAL_PHONE_ENABLED", "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", "GOTRUE_SMS_AUTOCONFIRM")
MIGRATE = """DO $gotrue$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth') THEN CREATE SCHEMA auth; END IF;
END $gotrue$;
CREATE TABLE IF NOT EXISTS auth.schema_migrations (version varchar(14) PRIMARY KEY);
INSERT INTO auth.schema_migrations VALUES ('00000000000000') ON CONFLICT DO NOTHING;"""


def fatal(message: str) -> None:
    refuse(f"Failed to load configuration: {message}")


def check_config() -> Pg:
    """GoTrue's envconfig: required keys, typed values, a postgres database URL."""
    for name in REQUIRED:
        if not env(name):
            fatal(f"required key {name} missing value")
    url = env("GOTRUE_DB_DATABASE_URL") or env("DATABASE_URL")
    if not url:
        fatal("required key DATABASE_URL missing value")
    for name in INTEGERS:
        if env(name) and not env(name).lstrip("-").isdigit():
            fatal(f"envconfig.Process: assigning {name}: converting '{env(name)}' to type int")
    for name in BOOLEANS:
        if env(name) and go_bool(env(name)) is None:
            fatal(f"envconfig.Process: assigning {name}: converting '{env(name)}' to type bool")
    if env("GOTRUE_DB_DRIVER") != "postgres":
        fatal(f"unsupported database driver {env('GOTRUE_DB_DRIVER')!r} (only postgres)")
    for name in ("API_EXTERNAL_URL", "GOTRUE_SITE_URL"):
        if not is_http_url(env(name)):
            fatal(f"{name} must be an http(s) URL, got {env(name)!r}")
    try:
        return Pg.from_url(url)
    except ValueError:
        fatal("GOTRUE_DB_DATABASE_URL must be a postgres:// URL")
        raise


def main() -> None:
    setup("gotrue")
    on_stop()
    pg = check_config()
    log(f"database {pg.user}@{pg.host}:{pg.port}/{pg.dbname}; site {env('GOTRUE_SITE_URL')}; "
        f"external {env('API_EXTERNAL_URL')}")
    while True:
        result = psql(pg, MIGRATE)
        if result.ok:
            log("migrations: auth schema ready")
            break
        log(f"database not ready, retrying: {result.reason()}")
        time.sleep(2)
    settings = {"external": {"email": go_bool(env("GOTRUE_EXTERNAL_EMAIL_ENABLED", "true")) is not False,
                             "phone": go_bool(env("GOTRUE_EXTERNAL_PHONE_ENABLED", "false")) is True,
                             "anonymous_users": go_bool(env("GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", "false"))
                             is True},
                "disable_signup": go_bool(env("GOTRUE_DISABLE_SIGNUP", "false")) is True,
                "mailer_autoconfirm": go_bool(env("GOTRUE_MAILER_AUTOCONFIRM", "false")) is True,
                "phone_autoconfirm": False, "sms_provider": "", "saml_enabled": False}

    def handle(request):
        if request.path == "/health":
            return reply(200, {"version": "double", "name": "GoTrue",
                               "description": "GoTrue is a user registration and authentication API "
                                              f"(contract double of {VERSION.removesuffix('-double')})"})
        if request.path == "/settings":
            return reply(200, settings)
        return reply(404, {"code": 404, "error_code": "not_found",
                           "msg": "not implemented by the GoTrue contract double"})

    serve(handle, int(env("GOTRUE_API_PORT") or env("PORT") or 9999), env("GOTRUE_API_HOST") or "0.0.0.0",
          quiet=lambda r: r.path == "/health")


if __name__ == "__main__":
    main()
