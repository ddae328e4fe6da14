"""Secrets are declared, not parsed: typed generators with explicit dependencies, generated in
dependency order whatever the table order; rotation rules on the secret; every new value masked."""
from __future__ import annotations

import re

import jwt
import pytest

from stack.config import redact
from stack.config.generators import Alnum, ApiKey, BcryptOf, Secret, bcrypt_matches
from stack.config.schema import SECRETS, SETTINGS
from stack.config.secrets import REFUSED, ROTATABLE, fill_missing, generation_order
from stack.config.store import prepare
from stack.ops.rotate import check_rotatable, new_values
from tests.conftest import read_env_file, run_start


def _entry(text: str, key: str) -> tuple[int, int]:
    """Span of one `_s("KEY", ...)` entry of the settings table, up to the next entry."""
    start = text.index(f'    _s("{key}",')
    return start, text.index("    _s(", start + 1)


def test_a_reordered_table_still_signs_the_api_keys(project):
    """JWT_SECRET moved after the keys it signs: today's code signed with a blank key (a traceback)."""
    schema = project / "stack" / "config" / "schema.py"
    text = schema.read_text()
    start, end = _entry(text, "JWT_SECRET")
    entry, text = text[start:end], text[:start] + text[end:]
    after = _entry(text, "SERVICE_ROLE_KEY")[1]
    schema.write_text(text[:after] + entry + text[after:])
    result = run_start(project, "render")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    env = read_env_file(project / ".env")
    assert jwt.decode(env["ANON_KEY"], env["JWT_SECRET"], algorithms=["HS256"])["role"] == "anon"
    assert jwt.decode(env["SERVICE_ROLE_KEY"], env["JWT_SECRET"], algorithms=["HS256"])["role"] == "service_role"


def test_generation_order_follows_the_dependencies_not_the_table():
    backwards = dict(reversed(list(SECRETS.items())))
    order = generation_order(backwards)
    assert sorted(order) == sorted(SECRETS)
    for key, secret in SECRETS.items():
        for need in secret.make.needs:
            assert order.index(need) < order.index(key), (need, key)
    values = {s.key: "" for s in SETTINGS}
    new = fill_missing(values, backwards)
    assert jwt.decode(new["ANON_KEY"], new["JWT_SECRET"], algorithms=["HS256"])["role"] == "anon"
    assert bcrypt_matches(new["N8N_OWNER_PASSWORD"], new["N8N_OWNER_PASSWORD_HASH"])


def test_a_dependency_cycle_or_an_unknown_source_is_refused():
    with pytest.raises(ValueError, match="made from each other"):
        generation_order({"A": Secret(BcryptOf("B")), "B": Secret(BcryptOf("A"))})
    with pytest.raises(ValueError, match="not a declared secret"):
        generation_order({"K": Secret(ApiKey("anon", signer="NOPE"))})


def test_every_secret_is_declared_with_a_typed_generator():
    """No generator strings ("jwt:anon") left to parse at run time."""
    for setting in SETTINGS:
        assert (setting.kind == "secret") == (setting.secret is not None), setting.key
        if setting.secret is not None:
            assert isinstance(setting.secret, Secret), setting.key
            assert not isinstance(setting.secret.make, str), setting.key
    assert SECRETS["ANON_KEY"].make.needs == ("JWT_SECRET",)
    assert SECRETS["CADDY_BASIC_AUTH_HASH"].make.needs == ("CADDY_BASIC_AUTH_PASSWORD",)
    assert isinstance(SECRETS["JWT_SECRET"].make, Alnum)


def test_rotation_rules_come_from_the_secrets_themselves():
    assert set(ROTATABLE).isdisjoint(REFUSED)
    assert ROTATABLE["JWT_SECRET"].startswith("ANON_KEY and SERVICE_ROLE_KEY are re-signed")
    assert "re-signs both API keys" in REFUSED["ANON_KEY"]
    for key in REFUSED:
        with pytest.raises(Exception, match=f"{key} cannot be rotated: "):
            check_rotatable(key)
    with pytest.raises(Exception, match="unknown secret N8N_OWNER_PASSWORD; rotatable: "):
        check_rotatable("N8N_OWNER_PASSWORD")  # declared without a rotation rule


@pytest.mark.parametrize("key", ["JWT_SECRET", "CADDY_BASIC_AUTH_PASSWORD"])
def test_rotation_remakes_what_is_made_from_the_secret(project, key):
    settings = prepare(project, {}).settings
    updates = new_values(key, settings)
    values = {**settings.values, **updates}
    if key == "JWT_SECRET":
        assert set(updates) == {"JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY"}
        assert jwt.decode(values["ANON_KEY"], values["JWT_SECRET"], algorithms=["HS256"])["role"] == "anon"
    else:
        assert set(updates) == {key, "CADDY_BASIC_AUTH_HASH"}
        assert bcrypt_matches(values[key], values["CADDY_BASIC_AUTH_HASH"])


@pytest.mark.parametrize("key", ["POSTGRES_PASSWORD", "N8N_DB_PASSWORD", "JWT_SECRET"])
def test_rotated_values_are_masked_before_anything_runs(project, key):
    """rotate hands the new database password to psql: it must be masked from the moment it exists
    (a psql error echoing the statement, or a failing command's argv, would show it otherwise)."""
    settings = prepare(project, {}).settings
    updates = new_values(key, settings)
    for name, value in updates.items():
        line = f"ERROR: near \"{value}\" in ALTER ROLE"
        assert value not in redact.scrub(line), f"{name}: a new value is not registered for masking"
        assert re.fullmatch(r'ERROR: near "\*\*\*" in ALTER ROLE', redact.scrub(line))
