"""PostgreSQL and Redis for tests that need them for real.

`make test` runs the suite twice: first on the embedded default, then with DATABASE_URL and
REDIS_URL pointing at the services (from TEST_DATABASE_URL and TEST_REDIS_URL). Tests marked
with `needs_services` run only in the second pass and say why they skip in the first.
"""

import os
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
REDIS_URL = settings.REDIS_URL

needs_services = pytest.mark.skipif(
    not (POSTGRES and REDIS_URL),
    reason="runs in the PostgreSQL and Redis pass of `make test` "
    "(TEST_DATABASE_URL, TEST_REDIS_URL)",
)


def postgres_server() -> str:
    """The URL of the test PostgreSQL server, without a database name."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}"


@contextmanager
def scratch_database():
    """A new, empty PostgreSQL database on the test server; dropped afterwards."""
    name = f"stockwire_e2e_{uuid.uuid4().hex[:12]}"
    create_database(postgres_server(), name)
    try:
        yield f"{postgres_server()}/{name}"
    finally:
        drop_database(postgres_server(), name)


def create_database(server: str, name: str, *, template: str | None = None) -> None:
    """A new database on the PostgreSQL `server` (a URL without a database name): empty, or
    a copy of `template`."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with _maintenance(server) as admin:
        admin.execute(statement)


def drop_database(server: str, name: str) -> None:
    """Drop a database on `server`, if it is there, whoever is still connected to it."""
    with _maintenance(server) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _maintenance(server: str) -> psycopg.Connection:
    return psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10)


def channel_prefix() -> str:
    """A channel-layer prefix of one test's own, so its servers form a site of their own."""
    return f"stockwire-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
