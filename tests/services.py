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


def database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{name}"


@contextmanager
def scratch_database():
    """A new, empty PostgreSQL database on the test server; dropped afterwards."""
    name = f"stockwire_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def channel_prefix() -> str:
    """A channel-layer prefix of one test's own, so its servers form a site of their own."""
    return f"stockwire-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
