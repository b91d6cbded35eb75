"""A shopper asks to be told when a sold-out item is back, and hears it in every open tab and
by email."""

import asyncio
import time

import pytest
from playwright.async_api import expect

from tests.e2e.browser import buy_form, item_by_sku, pages_in_first_pass, shopper_page, stock_of
from tests.e2e.conftest import shop_site
from tests.servers import http_json, running_server, token_for

pytestmark = pages_in_first_pass


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def live_shop(outbox):
    """The shop of this module's own, writing its emails to files in `outbox`."""
    email = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox),
    }
    with shop_site(**email) as env, running_server(env) as server:
        yield server


async def emailed(outbox, address: str, *, within: float) -> None:
    """Wait until the sweep has written an email to `address`; fail past the deadline."""
    deadline = time.monotonic() + within
    while not any(f"To: {address}" in path.read_text() for path in outbox.iterdir()):
        assert time.monotonic() < deadline, f"no email to {address} within {within} s"
        await asyncio.sleep(0.1)


async def test_notify_me_on_a_sold_out_item_brings_a_toast_to_every_tab_and_an_email(
    live_shop, browser, outbox
):
    item = item_by_sku(live_shop.url, "CB-012")
    status, body = http_json(
        "POST",
        f"{live_shop.url}/api/items/{item['id']}/purchase",
        {"quantity": item["quantity"]},
        token_for(live_shop.url, "bob"),
    )
    assert status == 201, body
    item_tab = await shopper_page(browser, live_shop.url, "alice", path=f"/items/{item['id']}/")
    catalog_tab = await item_tab.context.new_page()
    await catalog_tab.goto("/")
    bob = await shopper_page(browser, live_shop.url, "bob")
    notify = item_tab.locator(f'[data-notify][data-item="{item["id"]}"]')
    await expect(buy_form(item_tab, item["id"]).get_by_role("button", name="Buy")).to_be_disabled()

    await notify.get_by_role("button", name="Notify me").click()

    await expect(notify.get_by_text("We will tell you when it is back.")).to_be_visible()
    await expect(notify.get_by_role("button", name="Cancel")).to_be_focused()
    status, body = http_json(
        "POST",
        f"{live_shop.url}/api/items/{item['id']}/restock",
        {"quantity": 3},
        token_for(live_shop.url, "staff"),
    )
    assert status == 200, body

    toast = f"{item['name']} is back in stock: 3 available."
    await expect(item_tab.locator(".toast", has_text=toast)).to_be_visible()
    await expect(
        catalog_tab.locator(".toast", has_text="is back in stock: 3 available.")
    ).to_be_visible()
    await expect(stock_of(item_tab, item["id"])).to_have_text("3")
    await expect(buy_form(item_tab, item["id"]).get_by_role("button", name="Buy")).to_be_enabled()
    await expect(notify).to_be_hidden()
    await expect(stock_of(bob, item["id"])).to_have_text("3")
    await expect(bob.locator(".toast")).to_have_count(0)
    await emailed(outbox, "alice@example.com", within=10)


async def test_a_cancelled_notify_me_brings_no_toast(live_shop, browser):
    item = item_by_sku(live_shop.url, "CH-010")
    status, body = http_json(
        "POST",
        f"{live_shop.url}/api/items/{item['id']}/purchase",
        {"quantity": item["quantity"]},
        token_for(live_shop.url, "bob"),
    )
    assert status == 201, body
    page = await shopper_page(browser, live_shop.url, "alice")
    notify = page.locator(f'[data-notify][data-item="{item["id"]}"]')
    await notify.get_by_role("button", name="Notify me").click()
    await notify.get_by_role("button", name="Cancel").click()
    await expect(notify.get_by_role("button", name="Notify me")).to_be_visible()

    status, body = http_json(
        "POST",
        f"{live_shop.url}/api/items/{item['id']}/restock",
        {"quantity": 1},
        token_for(live_shop.url, "staff"),
    )
    assert status == 200, body

    await expect(stock_of(page, item["id"])).to_have_text("1")
    await expect(notify).to_be_hidden()
    await expect(page.locator(".toast")).to_have_count(0)
