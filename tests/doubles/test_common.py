"""The doubles' shared library: address parsing, HS256 verification, SQL quoting, psql errors."""
from __future__ import annotations

import importlib
import sys
import time

import pytest

from tests.doubles.harness import IMAGES, PG_PASSWORD, api_key, sign


@pytest.fixture(scope="module")
def common():
    sys.path.insert(0, str(IMAGES))
    try:
        yield importlib.import_module("doublelib.common")
    finally:
        sys.path.remove(str(IMAGES))


def test_listen_address(common):
    assert common.listen_address("0.0.0.0:11434", 1) == ("0.0.0.0", 11434)
    assert common.listen_address(":5001", 1) == ("0.0.0.0", 5001)
    assert common.listen_address("http://127.0.0.1:8000/", 1) == ("127.0.0.1", 8000)
    assert common.listen_address("[::]:3000", 1) == ("::", 3000)
    assert common.listen_address("localhost", 7) == ("localhost", 7)


def test_jwt_verify_accepts_only_valid_hs256(common):
    secret = "s" * 40
    good = api_key("anon", secret)
    assert common.jwt_verify(good, secret)["role"] == "anon"
    assert common.jwt_sign({"role": "x"}, secret).count(".") == 2
    cases = {"signature": api_key("anon", "t" * 40), "expired": api_key("anon", secret, expires_in=-1),
             "alg": sign({"role": "anon"}, secret, alg="HS512"), "malformed": "a.b"}
    for reason, token in cases.items():
        with pytest.raises(common.JWTError) as info:
            common.jwt_verify(token, secret)
        assert info.value.reason == reason
    with pytest.raises(common.JWTError):
        common.jwt_verify(good, "")
    future = sign({"role": "anon", "nbf": time.time() + 60}, secret)
    with pytest.raises(common.JWTError, match="nbf"):
        common.jwt_verify(future, secret)


def test_quoting(common):
    assert common.ident('we"ird') == '"we""ird"'
    assert common.literal("it's") == "'it''s'"
    with pytest.raises(ValueError):
        common.literal("nul\0")


def test_pg_url_and_psql_errors(common, postgres):
    pg = common.Pg.from_url(postgres.url("authenticator"))
    assert (pg.user, pg.password, pg.port) == ("authenticator", PG_PASSWORD, postgres.port)
    with pytest.raises(ValueError):
        common.Pg.from_url("mysql://x@y/z")
    assert common.psql(pg, "SELECT 40 + 2;").out.strip() == "42"
    denied = common.psql(pg, "SET ROLE anon; SELECT * FROM public.vault;")
    assert denied.sqlstate == "42501" and denied.message == "permission denied for table vault"
    refused = common.psql(pg.as_user("authenticator", "wrong"), "SELECT 1;")
    assert not refused.ok and not refused.sqlstate and "password authentication failed" in refused.reason()
