"""Secrets on Swarm: Docker secrets, never environment values.

The rendered compose file refers to every secret as `${KEY}` (Compose fills it in from .env). For
Swarm each such KEY becomes a Docker secret mounted at /run/secrets/KEY, and the variable that
carried it is replaced by one of two things:

- `VAR_FILE=/run/secrets/KEY` where the program reads `VAR_FILE` itself (FILE_VARS below, each
  checked at the pinned version; tests/records/swarm-secrets.md cites where);
- otherwise a small wrapper entrypoint (`/bin/sh -c`) that reads the files into the environment of
  that one process and then execs the service's own entrypoint and command. The value never enters
  the service spec or the container's Config.Env (`docker inspect` shows neither).

A Docker secret cannot change, so its name carries a digest of its value: a rotated secret is a new
Docker secret, and an unchanged one keeps its name (a redeploy then recreates nothing).
"""
from __future__ import annotations

import hashlib
import re
import shlex

SECRETS_DIR = "/run/secrets"
REF = re.compile(r"\$\{([A-Z0-9_]+)\}")
WRAPPER_NAME = "localai-secrets"

# compose service -> variables its program reads from `<VAR>_FILE` (tests/records/swarm-secrets.md).
FILE_VARS: dict[str, frozenset[str]] = {
    # Postgres entrypoint file_env (docker-library/postgres docker-entrypoint.sh; the test image copies it)
    "db": frozenset({"POSTGRES_PASSWORD"}),
    # n8n: every @n8n/config Env() variable (@n8n/config@2.39.0 dist/decorators.js:9-20)
    "n8n": frozenset({"DB_POSTGRESDB_PASSWORD", "N8N_ENCRYPTION_KEY", "N8N_USER_MANAGEMENT_JWT_SECRET",
                      "N8N_RUNNERS_AUTH_TOKEN"}),
}


def secret_name(stack: str, key: str, value: str) -> str:
    """The Docker secret's name: stack, key and a digest of the value (rotation makes a new one)."""
    digest = hashlib.sha256(f"{key}\0{value}".encode()).hexdigest()[:12]
    return f"{stack}_{key.lower()}_{digest}"


def refs(value: object) -> list[str]:
    return REF.findall(value) if isinstance(value, str) else []


def _shell_value(value: str) -> str:
    """A shell word that rebuilds `value`, each ${KEY} read from its secret file."""
    parts: list[str] = []
    pos = 0
    for match in REF.finditer(value):
        if match.start() > pos:
            parts.append(shlex.quote(value[pos:match.start()]))
        parts.append(f'"$(cat {SECRETS_DIR}/{match.group(1)})"')
        pos = match.end()
    if pos < len(value):
        parts.append(shlex.quote(value[pos:]))
    return "".join(parts) or "''"


def wrapper(exports: dict[str, str], program: list[str], escape: bool = True) -> list[str]:
    """The entrypoint that exports `exports` (VAR -> value with ${KEY}s) from the secret files,
    then execs `program` (the service's own entrypoint + command). With `escape`, `$` is doubled:
    `docker stack deploy` interpolates the stack file as Compose does (not so for `docker exec`)."""
    lines = [f"{var}={_shell_value(value)}; export {var}" for var, value in sorted(exports.items())]
    script = "; ".join([*lines, 'exec "$@"'])
    return ["/bin/sh", "-c", script.replace("$", "$$") if escape else script, WRAPPER_NAME, *program]


def health_test(test: object, moved: dict[str, str]) -> object:
    """A shell healthcheck that reads a moved variable (`$${VAR}`) reads its secret file instead."""
    if not (isinstance(test, list) and test and test[0] == "CMD-SHELL"):
        return test
    text = test[1]
    for var, key in moved.items():
        text = text.replace(f"$${{{var}}}", f"$$(cat {SECRETS_DIR}/{key})")
    return [test[0], text, *test[2:]]
