"""How each secret is made, what it is made from, and whether it may be rotated: declared, not parsed.

A secret in the settings table carries a `Secret`: a typed generator naming the settings it needs
(ANON_KEY needs JWT_SECRET), the checks a user-supplied value must pass, and its rotation rule.
Generated values are alphanumeric (or hex), so they are safe inside connection URLs and in both
python-dotenv's and Compose's .env parsers. ANON_KEY / SERVICE_ROLE_KEY are HS256 JWTs signed
with JWT_SECRET.
"""
from __future__ import annotations

import base64
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import bcrypt
import jwt

ALPHANUMERIC = string.ascii_letters + string.digits
JWT_ISSUER = "supabase"
JWT_LIFETIME_SECONDS = 10 * 365 * 24 * 3600


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


def bcrypt_matches(password: str, encoded: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), base64.b64decode(encoded, validate=True))
    except ValueError:
        return False


class Generator(Protocol):
    """Makes one secret from the values it `needs` (already present when `make` runs)."""

    @property
    def needs(self) -> tuple[str, ...]: ...

    def make(self, values: Mapping[str, str]) -> str: ...

    def stale(self, value: str, values: Mapping[str, str]) -> bool:
        """True when an existing value no longer follows what it was made from (remake it silently)."""
        ...


@dataclass(frozen=True)
class Alnum:
    """Random letters and digits."""

    length: int
    needs: tuple[str, ...] = ()

    def make(self, values: Mapping[str, str]) -> str:
        return random_alnum(self.length)

    def stale(self, value: str, values: Mapping[str, str]) -> bool:
        return False


@dataclass(frozen=True)
class Password:
    """Letters and digits with at least one digit and one uppercase letter (n8n's rule)."""

    length: int
    needs: tuple[str, ...] = ()

    def make(self, values: Mapping[str, str]) -> str:
        value = random_alnum(self.length)
        while not (any(c.isdigit() for c in value) and any(c.isupper() for c in value)):
            value = random_alnum(self.length)
        return value

    def stale(self, value: str, values: Mapping[str, str]) -> bool:
        return False


@dataclass(frozen=True)
class Hex:
    """`nbytes` random bytes as hex."""

    nbytes: int
    needs: tuple[str, ...] = ()

    def make(self, values: Mapping[str, str]) -> str:
        return secrets.token_hex(self.nbytes)

    def stale(self, value: str, values: Mapping[str, str]) -> bool:
        return False


@dataclass(frozen=True)
class ApiKey:
    """A Supabase API key for `role`, signed with the secret named by `signer`. A key that does not
    verify is not remade silently: clients hold it, so settings validation explains instead."""

    role: str
    signer: str = "JWT_SECRET"

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.signer,)

    def make(self, values: Mapping[str, str]) -> str:
        return sign_api_key(self.role, values[self.signer])

    def stale(self, value: str, values: Mapping[str, str]) -> bool:
        return False


@dataclass(frozen=True)
class BcryptOf:
    """The base64 bcrypt hash of another secret; remade whenever it no longer matches that secret."""

    source: str

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.source,)

    def make(self, values: Mapping[str, str]) -> str:
        return bcrypt_base64(values[self.source])

    def stale(self, value: str, values: Mapping[str, str]) -> bool:
        return not bcrypt_matches(values[self.source], value)


@dataclass(frozen=True)
class Rotatable:
    """`secrets rotate` may change it; `effect` is what the user will notice."""

    effect: str


@dataclass(frozen=True)
class Refused:
    """`secrets rotate` refuses it, saying `reason`."""

    reason: str


@dataclass(frozen=True)
class Secret:
    """One secret's declaration: its generator, the rules a value must follow, and its rotation rule.

    `in_database`: the database keeps the value it was created with (editing .env does not change
    it; rotation changes it inside the database too). `url_safe`: it goes inside connection URLs,
    so letters and digits only. `rotation` None: not offered for rotation at all."""

    make: Generator
    min_length: int = 0
    exact_length: int = 0
    url_safe: bool = False
    in_database: bool = False
    rotation: Rotatable | Refused | None = None
