"""Shoppers in real browsers see each other's purchases, restocks and presence live."""

import re

from playwright.async_api import expect

from tests.e2e.browser import (
    buy,
    buy_form,
    item_by_sku,
    pages_in_first_pass,
    shopper_page,
    stock_of,
)
from tests.servers import http_json, token_for

pytestmark = pages_in_first_pass

# A change must reach another shopper's page within this (the product's promise); measured in
# the browser from the click on Buy (which holds the units: what others can buy drops then)
# to the number changing on the other page.
LIVE_WITHIN_MS = 1000

# Resolves with Date.now() when the element's text changes; set up before the change.
WATCH_CHANGE = """el => {
    window.changedAt = new Promise(resolve =>
        new MutationObserver(() => resolve(Date.now()))
            .observe(el, {childList: true, characterData: true, subtree: true}));
}"""


async def test_a_purchase_by_one_shopper_reaches_another_shoppers_page_within_a_second(
    live_shop, browser
):
    item = item_by_sku(live_shop.url, "KB-001")
    path = f"/items/{item['id']}/"
    alice = await shopper_page(browser, live_shop.url, "alice", path=path)
    bob = await shopper_page(browser, live_shop.url, "bob", path=path)
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"]))
    await stock_of(bob, item["id"]).evaluate(WATCH_CHANGE)

    form = buy_form(alice, item["id"])
    await form.get_by_label("Quantity").fill("2")
    clicked_at = await alice.evaluate("Date.now()")
    await form.get_by_role("button", name="Buy").click()

    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 2))
    await expect(stock_of(bob, item["id"])).to_have_class(re.compile(r"\bis-updated\b"))
    changed_at = await bob.evaluate("window.changedAt")
    assert changed_at - clicked_at < LIVE_WITHIN_MS
    await expect(form.locator("[data-confirm-text]")).to_have_text(
        f"Buy 2 × {item['name']} for {float(item['price']) * 2:.2f}?"
    )
    await form.get_by_role("button", name="Confirm purchase").click()
    await expect(form.locator("[data-buy-message]")).to_contain_text(f"Bought 2 × {item['name']}")
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 2))
    await expect(stock_of(alice, item["id"])).to_have_text(str(item["quantity"] - 2))
    assert await bob.evaluate("performance.getEntriesByType('navigation').length") == 1


async def test_buying_the_last_unit_disables_buy_for_others_until_staff_restock(live_shop, browser):
    item = item_by_sku(live_shop.url, "CB-012")
    assert item["quantity"] == 1
    alice = await shopper_page(browser, live_shop.url, "alice")
    bob = await shopper_page(browser, live_shop.url, "bob", path=f"/items/{item['id']}/")
    staff = await shopper_page(browser, live_shop.url, "staff", path="/staff/stock/")
    row = staff.locator(f'[data-item-card="{item["id"]}"]')
    bob_buy = buy_form(bob, item["id"]).get_by_role("button", name="Buy")
    await expect(bob_buy).to_be_enabled()

    await buy(alice, item["id"])

    await expect(stock_of(bob, item["id"])).to_have_text("0")
    await expect(bob_buy).to_be_disabled()
    await expect(bob.get_by_text("Sold out")).to_be_visible()
    await expect(buy_form(alice, item["id"]).get_by_role("button", name="Buy")).to_be_disabled()
    # The stock room is live too: staff see the sale without reloading.
    await expect(stock_of(staff, item["id"])).to_have_text("0")
    await expect(row.get_by_text("Sold out")).to_be_visible()

    await row.get_by_label(f"Units of {item['name']} to add").fill("5")
    await row.get_by_role("button", name="Restock").click()
    await expect(row.locator("[data-restock-message]")).to_have_text("Added 5; 5 in stock.")

    await expect(stock_of(bob, item["id"])).to_have_text("5")
    await expect(bob_buy).to_be_enabled()
    await expect(bob.get_by_text("Sold out")).to_be_hidden()
    await expect(stock_of(alice, item["id"])).to_have_text("5")


async def test_presence_counts_go_up_and_down_as_item_pages_open_and_close(live_shop, browser):
    item = item_by_sku(live_shop.url, "HP-003")
    path = f"/items/{item['id']}/"
    presence = f'[data-presence-item="{item["id"]}"]'
    catalog = await shopper_page(browser, live_shop.url, "staff")
    alice = await shopper_page(browser, live_shop.url, "alice", path=path)
    await expect(alice.locator(presence)).to_have_text("1 person is looking at this")

    bob = await shopper_page(browser, live_shop.url, "bob", path=path)
    await expect(alice.locator(presence)).to_have_text("2 people are looking at this")
    await expect(bob.locator(presence)).to_have_text("2 people are looking at this")
    # The catalog shows the count without counting its own reader as a viewer.
    await expect(catalog.locator(presence)).to_have_text("2 looking")

    await bob.context.close()
    await expect(alice.locator(presence)).to_have_text("1 person is looking at this")
    await expect(catalog.locator(presence)).to_have_text("1 looking")

    await alice.goto("/")
    await expect(catalog.locator(presence)).to_be_hidden()


async def test_an_order_confirmation_toast_appears_in_every_open_tab_of_the_buyer(
    live_shop, browser
):
    item = item_by_sku(live_shop.url, "MS-002")
    buying_tab = await shopper_page(browser, live_shop.url, "alice")
    other_tab = await buying_tab.context.new_page()
    await other_tab.goto("/orders/")
    bob = await shopper_page(browser, live_shop.url, "bob")

    await buy(buying_tab, item["id"], 3)

    toast = f"confirmed: 3 × {item['name']}"
    await expect(buying_tab.locator(".toast", has_text=toast)).to_be_visible()
    await expect(other_tab.locator(".toast", has_text=toast)).to_be_visible()
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 3))
    await expect(bob.locator(".toast")).to_have_count(0)


async def test_the_stock_room_shows_on_hand_held_and_available_live_as_a_shopper_holds(
    live_shop, browser
):
    item = item_by_sku(live_shop.url, "HP-003")
    staff = await shopper_page(browser, live_shop.url, "staff", path="/staff/stock/")
    on_hand, held, available = (
        stock_of(staff, item["id"], "on_hand"),
        stock_of(staff, item["id"], "held"),
        stock_of(staff, item["id"]),
    )
    await expect(held).to_have_text(str(item["held"]))

    token = token_for(live_shop.url, "bob")
    status, body = http_json(
        "POST", f"{live_shop.url}/api/items/{item['id']}/holds", {"quantity": 2}, token
    )
    assert status == 201, body

    await expect(held).to_have_text(str(item["held"] + 2))
    await expect(available).to_have_text(str(item["quantity"] - 2))
    await expect(on_hand).to_have_text(str(item["on_hand"]))
    released, _ = http_json(
        "DELETE", f"{live_shop.url}/api/holds/{body['hold']['id']}", token=token
    )
    assert released == 204
    await expect(held).to_have_text(str(item["held"]))


async def test_logging_out_in_one_tab_takes_the_other_tabs_offline_at_once_with_a_way_back_in(
    live_shop, browser
):
    page = await shopper_page(browser, live_shop.url, "alice")
    indicator = page.locator("[data-live]")
    await expect(indicator).to_have_attribute("data-state", "live")
    other_tab = await page.context.new_page()
    await other_tab.goto("/orders/")

    await other_tab.get_by_role("button", name="Log out").click()

    await expect(indicator).to_have_attribute("data-state", "offline")
    await expect(page.get_by_role("link", name="Log in again")).to_be_visible()
