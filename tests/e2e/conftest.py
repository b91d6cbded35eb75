from dataclasses import dataclass

import pytest

from tests.servers import demo_shop_env
from tests.services import REDIS_URL, channel_prefix, scratch_database


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
