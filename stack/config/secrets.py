"""Generate every missing secret once; never overwrite one that exists (invariant 2).

What each secret is made from and how it is checked is declared on it (stack/config/generators.py,
the settings table). Here: the order those declarations give, making values (each registered for
masking the moment it exists), and checking the values a user supplied.
"""
from __future__ import annotations

from collections.abc import Mapping

from stack.config import redact
from stack.config.generators import ApiKey, Refused, Rotatable, Secret, api_key_role
from stack.config.schema import SECRETS
from stack.errors import ConfigError

FORBIDDEN = set(" \t$'\"`\\#")
ROTATABLE: dict[str, str] = {k: s.rotation.effect for k, s in SECRETS.items() if isinstance(s.rotation, Rotatable)}
REFUSED: dict[str, str] = {k: s.rotation.reason for k, s in SECRETS.items() if isinstance(s.rotation, Refused)}
IN_DATABASE: tuple[str, ...] = tuple(k for k, s in SECRETS.items() if s.in_database)


def generation_order(declared: Mapping[str, Secret]) -> tuple[str, ...]:
    """Every secret after the ones it is made from, whatever order the table lists them in."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(key: str, chain: tuple[str, ...]) -> None:
        if key in order:
            return
        if key not in declared:
            raise ValueError(f"secret {chain[-1]} is made from {key}, which is not a declared secret")
        if key in visiting:
            raise ValueError(f"secrets made from each other: {' -> '.join((*chain, key))}")
        visiting.add(key)
        for need in declared[key].make.needs:
            visit(need, (*chain, key))
        visiting.discard(key)
        order.append(key)

    for key in declared:
        visit(key, ())
    return tuple(order)


ORDER = generation_order(SECRETS)


def new_secret(key: str, values: Mapping[str, str], declared: Mapping[str, Secret] = SECRETS) -> str:
    """A fresh value for `key`, registered for masking before anything can print it."""
    value = declared[key].make.make(values)
    redact.register(value)
    return value


def fill_missing(values: dict[str, str], declared: Mapping[str, Secret] = SECRETS) -> dict[str, str]:
    """Return {key: new value} for every blank secret; existing secrets are checked, never replaced
    (a derived one that no longer follows its source, like a stale bcrypt hash, is remade)."""
    check_existing(values, declared)
    merged = dict(values)
    new: dict[str, str] = {}
    for key in generation_order(declared):
        generator = declared[key].make
        if not merged[key] or generator.stale(merged[key], merged):
            merged[key] = new[key] = new_secret(key, merged, declared)
    return new


def remake(key: str, values: Mapping[str, str], declared: Mapping[str, Secret] = SECRETS) -> dict[str, str]:
    """For rotation: a new `key` and a new value of every secret made from it, directly or not."""
    merged = dict(values)
    merged[key] = new_secret(key, merged, declared)
    remade = {key}
    for other in generation_order(declared):
        if other not in remade and set(declared[other].make.needs) & remade:
            merged[other] = new_secret(other, merged, declared)
            remade.add(other)
    return {k: merged[k] for k in remade}


def check_existing(values: Mapping[str, str], declared: Mapping[str, Secret] = SECRETS) -> None:
    """User-supplied secrets must be safe to use; API keys must verify with their signing secret.
    Every value found is registered for masking."""
    for key, secret in declared.items():
        value = values[key]
        if not value:
            continue
        redact.register(value)
        if set(value) & FORBIDDEN:
            raise ConfigError(f"{key}: must not contain spaces, quotes, backslashes, # or $ "
                              "(they change meaning in .env and Compose); leave it blank to generate one")
        if secret.url_safe and not value.isalnum():
            raise ConfigError(f"{key}: must be letters and digits only because it goes inside "
                              "connection URLs (an @ or : would break them); leave it blank to generate one")
        if secret.exact_length and len(value) != secret.exact_length:
            raise ConfigError(f"{key}: must be exactly {secret.exact_length} characters "
                              f"(it has {len(value)}); leave it blank to generate one")
        if len(value) < secret.min_length:
            raise ConfigError(f"{key}: must be at least {secret.min_length} characters "
                              f"(it has {len(value)}); leave it blank to generate one")
    for key, secret in declared.items():
        if not isinstance(secret.make, ApiKey) or not values[key]:
            continue
        role, signer = secret.make.role, secret.make.signer
        if not values[signer]:
            raise ConfigError(f"{signer} is blank but {key} is set: restore the {signer} it was signed "
                              f"with, or blank {key} too to generate a new pair")
        found = api_key_role(values[key], values[signer])
        if found != role:
            problem = f"is not signed with {signer}" if found is None else f"has role '{found}'"
            raise ConfigError(f"{key} {problem} (expected role {role}); if you changed {signer} on "
                              f"purpose use `start.py secrets rotate {signer}`, or blank {key} to re-sign it")


PLACEHOLDERS = {"password", "changeme", "secret", "admin", "supabase", "ultrasecretkey",
                "your-super-secret-and-long-postgres-password",
                "this_password_is_insecure_and_should_be_updated"}


def check_public_strength(values: Mapping[str, str]) -> None:
    """Public mode never starts with a secret someone else could know."""
    for key in SECRETS:
        value = values[key].lower()
        if value in PLACEHOLDERS or (value and len(set(value)) < 6):
            raise ConfigError(f"{key} is a known placeholder or too weak for public mode; blank it in .env to "
                              "generate a strong one (or rotate it: `python start.py secrets rotate`)")
