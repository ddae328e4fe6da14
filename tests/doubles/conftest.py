"""Fixtures for the contract doubles' own tests (no Docker needed)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.doubles.harness import SUPABASE_SQL, Double, Postgres, free_port, start, start_postgres, stop_postgres


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Double]]:
    """spawn(name, *args, env={...}, port=...) starts a double; all are stopped after the test."""
    started: list[Double] = []

    def _spawn(name: str, *args: str, env: dict[str, str], port: int | None = None, timeout: float = 20) -> Double:
        double = start(name, *args, env=env, home=tmp_path, port=port or free_port(), timeout=timeout)
        started.append(double)
        return double

    yield _spawn
    for double in started:
        double.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real Postgres 15 with Supabase-like roles, grants, a table and functions."""
    pg = start_postgres()
    try:
        pg.psql(SUPABASE_SQL)
        pg.psql("ALTER SCHEMA public OWNER TO n8n;", database="n8n")
        yield pg
    finally:
        stop_postgres(pg)
