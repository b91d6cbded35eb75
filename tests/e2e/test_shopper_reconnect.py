"""A page left open over a server restart comes back by itself, with the right numbers."""

import asyncio
from contextlib import ExitStack

from playwright.async_api import expect

from tests.e2e.browser import item_by_sku, shopper_page, stock_of
from tests.e2e.conftest import shop_site
from tests.servers import free_port, manage, running_server

RESTOCK_WHILE_DOWN = """
from django.contrib.auth import get_user_model
from shop import services
from shop.models import Item
item = Item.objects.get(sku="DK-006")
services.restock(actor=get_user_model().objects.get(username="staff"), item_id=item.pk, quantity=7)
"""


async def test_a_page_open_over_a_server_restart_reconnects_and_shows_what_changed_meanwhile(
    browser,
):
    port = free_port()
    # The server's suggested backoff (hello.reconnect) caps the wait between attempts.
    with (
        shop_site(RECONNECT_CAP_MS="2000") as env,
        ExitStack() as first_run,
        ExitStack() as second_run,
    ):
        server = await asyncio.to_thread(first_run.enter_context, running_server(env, port=port))
        item = item_by_sku(server.url, "DK-006")
        page = await shopper_page(browser, server.url, "alice", path=f"/items/{item['id']}/")
        indicator = page.locator("[data-live]")
        await expect(stock_of(page, item["id"])).to_have_text(str(item["quantity"]))

        # SIGTERM: the server closes every socket with 1012 (restart) and exits.
        await asyncio.to_thread(first_run.close)
        await expect(indicator).to_have_attribute("data-state", "reconnecting")
        await expect(indicator).to_have_text("Reconnecting…")

        await asyncio.to_thread(manage, "shell", "-c", RESTOCK_WHILE_DOWN, env=env)
        await asyncio.to_thread(second_run.enter_context, running_server(env, port=port))

        await expect(indicator).to_have_attribute("data-state", "live")
        await expect(indicator).to_have_text("Live")
        await expect(stock_of(page, item["id"])).to_have_text(str(item["quantity"] + 7))
        assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1
