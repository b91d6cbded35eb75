import tempfile
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.e2e.browser import chromium
from tests.servers import demo_shop_env, running_server
from tests.services import POSTGRES, REDIS_URL, channel_prefix, scratch_database


@dataclass(frozen=True)
class DemoShop:
    database: str
    env: dict[str, str]


@pytest.fixture
def demo_shop():
    """The demo shop on a scratch PostgreSQL database and the test Redis, as a site of its own."""
    with scratch_database() as database:
        env = demo_shop_env(
            DATABASE_URL=database, REDIS_URL=REDIS_URL, CHANNEL_PREFIX=channel_prefix()
        )
        yield DemoShop(database, env)


@contextmanager
def shop_site(**overrides: str):
    """The environment of a demo shop of its own, on whatever this pass of `make test` runs.

    The embedded default (a SQLite file, the in-memory layer) in the first pass; a scratch
    PostgreSQL database and the test Redis in the second.
    """
    if POSTGRES and REDIS_URL:
        with scratch_database() as database:
            yield demo_shop_env(
                DATABASE_URL=database,
                REDIS_URL=REDIS_URL,
                CHANNEL_PREFIX=channel_prefix(),
                **overrides,
            )
    else:
        with tempfile.TemporaryDirectory() as directory:
            yield demo_shop_env(DATABASE_URL=f"sqlite:///{directory}/shop.sqlite3", **overrides)


@pytest.fixture(scope="module")
def live_shop():
    """One server process of the demo shop, shared by a test module's browser tests."""
    with shop_site() as env, running_server(env) as server:
        yield server


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser
