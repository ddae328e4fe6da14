"""Generate every missing secret once; never overwrite one that exists (invariant 2).

Generated values are alphanumeric (or hex), so they are safe inside connection URLs and in both
python-dotenv's and Compose's .env parsers. ANON_KEY / SERVICE_ROLE_KEY are HS256 JWTs signed
with JWT_SECRET.
"""
from __future__ import annotations

import base64
import secrets
import string
import time

import bcrypt
import jwt

from stack.config import redact
from stack.config.schema import BY_KEY, SECRET_KEYS
from stack.errors import ConfigError

ALPHANUMERIC = string.ascii_letters + string.digits
JWT_ISSUER = "supabase"
JWT_LIFETIME_SECONDS = 10 * 365 * 24 * 3600
URL_SECRETS = ("POSTGRES_PASSWORD", "N8N_DB_PASSWORD")
EXACT_LENGTH = {"VAULT_ENC_KEY": 32, "REALTIME_DB_ENC_KEY": 16}
MIN_LENGTH = {"JWT_SECRET": 32, "SECRET_KEY_BASE": 64, "PG_META_CRYPTO_KEY": 32, "N8N_ENCRYPTION_KEY": 16,
              "POSTGRES_PASSWORD": 12, "N8N_DB_PASSWORD": 12, "DASHBOARD_PASSWORD": 8,
              "CADDY_BASIC_AUTH_PASSWORD": 8, "WEBUI_SECRET_KEY": 16, "SEARXNG_SECRET": 16,
              "N8N_USER_MANAGEMENT_JWT_SECRET": 16, "N8N_OWNER_PASSWORD": 8, "N8N_AGENT_PASSWORD": 8,
              "N8N_RUNNERS_AUTH_TOKEN": 16}
FORBIDDEN = set(" \t$'\"`\\#")


def random_alnum(length: int) -> str:
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))


def sign_api_key(role: str, jwt_secret: str, issued_at: int | None = None) -> str:
    """A Supabase API key: HS256 JWT with role, iss, iat and a long exp."""
    iat = int(time.time()) if issued_at is None else issued_at
    claims = {"role": role, "iss": JWT_ISSUER, "iat": iat, "exp": iat + JWT_LIFETIME_SECONDS}
    return jwt.encode(claims, jwt_secret, algorithm="HS256")


def api_key_role(token: str, jwt_secret: str) -> str | None:
    """The role claim of `token` if it is a valid HS256 JWT signed with `jwt_secret`, else None."""
    try:
        claims = jwt.decode(token, jwt_secret, algorithms=["HS256"], options={"require": ["exp", "role"]})
    except jwt.PyJWTError:
        return None
    role = claims.get("role")
    return role if isinstance(role, str) else None


def bcrypt_base64(password: str) -> str:
    """Caddy's basic auth wants a bcrypt hash; base64 keeps `$` out of .env and Compose."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))
    return base64.b64encode(hashed).decode()


def _bcrypt_matches(password: str, encoded: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), base64.b64decode(encoded, validate=True))
    except ValueError:
        return False


def generate(spec: str, values: dict[str, str]) -> str:
    kind, _, arg = spec.partition(":")
    if kind == "alnum":
        return random_alnum(int(arg))
    if kind == "password":  # letters and digits with at least one digit and one uppercase letter (n8n's rule)
        value = random_alnum(int(arg))
        while not (any(c.isdigit() for c in value) and any(c.isupper() for c in value)):
            value = random_alnum(int(arg))
        return value
    if kind == "hex":
        return secrets.token_hex(int(arg))
    if kind == "jwt":
        return sign_api_key(arg, values["JWT_SECRET"])
    if kind == "bcrypt":
        return bcrypt_base64(values[arg])
    raise ValueError(f"unknown secret spec {spec}")


def fill_missing(values: dict[str, str]) -> dict[str, str]:
    """Return {key: new value} for every blank secret; existing secrets are checked, never replaced."""
    _check_existing(values)
    merged = dict(values)
    new: dict[str, str] = {}
    for key in SECRET_KEYS:  # schema order: JWT_SECRET comes before the keys it signs
        spec = BY_KEY[key].secret
        stale_hash = spec.startswith("bcrypt:") and merged[key] and not _bcrypt_matches(
            merged[spec.partition(":")[2]], merged[key])
        if not merged[key] or stale_hash:
            merged[key] = new[key] = generate(spec, merged)
    redact.register(*(merged[k] for k in SECRET_KEYS))
    return new


def _check_existing(values: dict[str, str]) -> None:
    """User-supplied secrets must be safe to use; API keys must match JWT_SECRET."""
    for key in SECRET_KEYS:
        value = values[key]
        if not value:
            continue
        redact.register(value)
        if set(value) & FORBIDDEN:
            raise ConfigError(f"{key}: must not contain spaces, quotes, backslashes, # or $ "
                              "(they change meaning in .env and Compose); leave it blank to generate one")
        if key in URL_SECRETS and not value.isalnum():
            raise ConfigError(f"{key}: must be letters and digits only because it goes inside "
                              "connection URLs (an @ or : would break them); leave it blank to generate one")
        if key in EXACT_LENGTH and len(value) != EXACT_LENGTH[key]:
            raise ConfigError(f"{key}: must be exactly {EXACT_LENGTH[key]} characters "
                              f"(it has {len(value)}); leave it blank to generate one")
        if key in MIN_LENGTH and len(value) < MIN_LENGTH[key]:
            raise ConfigError(f"{key}: must be at least {MIN_LENGTH[key]} characters "
                              f"(it has {len(value)}); leave it blank to generate one")
    jwt_secret = values["JWT_SECRET"]
    for key, role in (("ANON_KEY", "anon"), ("SERVICE_ROLE_KEY", "service_role")):
        if not values[key]:
            continue
        if not jwt_secret:
            raise ConfigError(f"JWT_SECRET is blank but {key} is set: restore the JWT_SECRET it was signed "
                              f"with, or blank {key} too to generate a new pair")
        found = api_key_role(values[key], jwt_secret)
        if found != role:
            problem = "is not signed with JWT_SECRET" if found is None else f"has role '{found}'"
            raise ConfigError(f"{key} {problem} (expected role {role}); if you changed JWT_SECRET on "
                              f"purpose use `start.py secrets rotate JWT_SECRET`, or blank {key} to re-sign it")


PLACEHOLDERS = {"password", "changeme", "secret", "admin", "supabase", "ultrasecretkey",
                "your-super-secret-and-long-postgres-password",
                "this_password_is_insecure_and_should_be_updated"}


def check_public_strength(values: dict[str, str]) -> None:
    """Public mode never starts with a secret someone else could know."""
    for key in SECRET_KEYS:
        value = values[key].lower()
        if value in PLACEHOLDERS or (value and len(set(value)) < 6):
            raise ConfigError(f"{key} is a known placeholder or too weak for public mode; blank it in .env to "
                              "generate a strong one (or rotate it: `python start.py secrets rotate`)")
