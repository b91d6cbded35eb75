"""A page left open over a server restart comes back by itself, with the right numbers."""

import asyncio
from contextlib import ExitStack

import pytest
from playwright.async_api import expect

from tests.e2e.browser import item_by_sku, pages_in_first_pass, shopper_page, stock_of
from tests.e2e.conftest import shop_site
from tests.servers import free_port, manage, running_server

pytestmark = pages_in_first_pass

RESTOCK_WHILE_DOWN = """
from django.contrib.auth import get_user_model
from shop import services
from shop.models import Item
item = Item.objects.get(sku="DK-006")
services.restock(actor=get_user_model().objects.get(username="staff"), item_id=item.pk, quantity=7)
"""

END_SESSIONS = """
from django.contrib.sessions.models import Session
Session.objects.all().delete()
"""


class RestartableServer:
    """One shop's server process, stopped (SIGTERM) and started again on the same port."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.port = free_port()
        self.running = ExitStack()

    async def start(self):
        server = running_server(self.env, port=self.port)
        return await asyncio.to_thread(self.running.enter_context, server)

    async def stop(self) -> None:
        # SIGTERM: the server closes every socket with 1012 (restart) and exits.
        await asyncio.to_thread(self.running.close)


@pytest.fixture
def restartable():
    # The server's suggested backoff (hello.reconnect) caps the wait between attempts.
    with shop_site(RECONNECT_CAP_MS="2000") as env:
        server = RestartableServer(env)
        with server.running:
            yield server


async def test_a_page_open_over_a_server_restart_reconnects_and_shows_what_changed_meanwhile(
    browser, restartable
):
    server = await restartable.start()
    item = item_by_sku(server.url, "DK-006")
    page = await shopper_page(browser, server.url, "alice", path=f"/items/{item['id']}/")
    indicator = page.locator("[data-live]")
    await expect(stock_of(page, item["id"])).to_have_text(str(item["quantity"]))

    await restartable.stop()
    await expect(indicator).to_have_attribute("data-state", "reconnecting")
    await expect(indicator).to_have_text("Reconnecting…")

    await asyncio.to_thread(manage, "shell", "-c", RESTOCK_WHILE_DOWN, env=restartable.env)
    await restartable.start()

    await expect(indicator).to_have_attribute("data-state", "live")
    await expect(indicator).to_have_text("Live")
    await expect(stock_of(page, item["id"])).to_have_text(str(item["quantity"] + 7))
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1


async def test_a_page_whose_session_ended_goes_offline_after_a_restart_and_offers_to_log_in(
    browser, restartable
):
    server = await restartable.start()
    page = await shopper_page(browser, server.url, "alice")
    # The session ends without a logout (it expired, or was cleared on the server): the open
    # socket was authenticated when it connected and stays live until it reconnects.
    await asyncio.to_thread(manage, "shell", "-c", END_SESSIONS, env=restartable.env)
    indicator = page.locator("[data-live]")
    await expect(indicator).to_have_attribute("data-state", "live")

    await restartable.stop()
    await restartable.start()

    await expect(indicator).to_have_attribute("data-state", "offline")
    await expect(indicator).to_have_text("Offline")
    await expect(page.get_by_role("link", name="Log in again")).to_be_visible()
