"""Buy holds the units while the shopper decides: a countdown, Confirm purchase or Cancel, and
what happens when time is up; and "Only N left", live, as others buy."""

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.browser import (
    buy,
    buy_form,
    hold,
    hold_timer,
    item_by_sku,
    pages_in_first_pass,
    screenshot,
    shopper_page,
    stock_of,
)
from tests.e2e.conftest import shop_site
from tests.servers import running_server

pytestmark = pages_in_first_pass

HOLD_SECONDS = 3
LOW_STOCK_AT = 5  # the demo's default

# The page's text below WCAG 2.1 AA contrast (as in test_shopper_pages.py).
CONTRAST_FAILURES = (Path(__file__).parent / "contrast.js").read_text()


@pytest.fixture(scope="module")
def short_hold_shop():
    """A shop whose holds run out within a test."""
    with shop_site(HOLD_SECONDS=str(HOLD_SECONDS)) as env, running_server(env) as server:
        yield server


def seconds_shown(text: str) -> int:
    minutes, seconds = re.fullmatch(r"Held for you: (\d+):(\d\d)", text).groups()
    return int(minutes) * 60 + int(seconds)


def low_stock(page, item_id: int):
    return page.locator(f'[data-low-stock="{item_id}"]')


async def test_buy_holds_the_units_and_shows_a_countdown_ticking_down_from_ten_minutes(
    live_shop, browser
):
    item = item_by_sku(live_shop.url, "KB-001")
    alice = await shopper_page(browser, live_shop.url, "alice", path=f"/items/{item['id']}/")
    bob = await shopper_page(browser, live_shop.url, "bob")
    form = buy_form(alice, item["id"])

    await hold(alice, item["id"], 2)

    timer = hold_timer(alice, item["id"])
    await expect(timer).to_have_text(re.compile(r"^Held for you: (10:00|9:5\d)$"))
    await expect(form.locator("[data-confirm-text]")).to_have_text(
        f"Buy 2 × {item['name']} for {float(item['price']) * 2:.2f}?"
    )
    await expect(form.get_by_role("button", name="Confirm purchase")).to_be_focused()
    await expect(form.get_by_role("button", name="Cancel")).to_be_visible()
    # Held units are no longer for sale to anyone else.
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 2))
    assert await alice.evaluate(CONTRAST_FAILURES) == []
    assert (await screenshot(alice, "item-held")).stat().st_size > 0

    first = await timer.text_content()
    await expect(timer).not_to_have_text(first)
    assert seconds_shown(await timer.text_content()) < seconds_shown(first)


async def test_the_countdown_keeps_the_shops_time_on_a_computer_whose_clock_is_an_hour_slow(
    live_shop, browser
):
    item = item_by_sku(live_shop.url, "LS-007")
    alice = await shopper_page(browser, live_shop.url, "alice", path=f"/items/{item['id']}/")
    an_hour_ago = datetime.now() - timedelta(hours=1)
    await alice.clock.set_system_time(an_hour_ago)
    assert (
        await alice.evaluate("Date.now()") < (an_hour_ago + timedelta(minutes=1)).timestamp() * 1000
    )

    await hold(alice, item["id"])

    timer = hold_timer(alice, item["id"])
    await expect(timer).to_have_text(re.compile(r"^Held for you: (10:00|9:5\d)$"))
    first = await timer.text_content()
    await expect(timer).not_to_have_text(first)


async def test_cancel_puts_the_held_units_back_on_sale_on_another_shoppers_page(live_shop, browser):
    item = item_by_sku(live_shop.url, "MS-002")
    path = f"/items/{item['id']}/"
    alice = await shopper_page(browser, live_shop.url, "alice", path=path)
    bob = await shopper_page(browser, live_shop.url, "bob", path=path)
    form = buy_form(alice, item["id"])
    await hold(alice, item["id"], 3)
    await expect(hold_timer(alice, item["id"])).to_be_visible()
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 3))

    await form.get_by_role("button", name="Cancel").click()

    await expect(form.locator("[data-buy-message]")).to_have_text(
        "Cancelled: the units you held are for sale again."
    )
    await expect(form.get_by_label("Quantity")).to_be_focused()
    await expect(hold_timer(alice, item["id"])).to_be_hidden()
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"]))
    await expect(stock_of(alice, item["id"])).to_have_text(str(item["quantity"]))
    after = item_by_sku(live_shop.url, "MS-002")
    assert (after["on_hand"], after["held"]) == (item["on_hand"], 0)


async def test_confirm_purchase_buys_the_held_units_and_ends_the_hold(live_shop, browser):
    item = item_by_sku(live_shop.url, "SS-009")
    path = f"/items/{item['id']}/"
    alice = await shopper_page(browser, live_shop.url, "alice", path=path)
    bob = await shopper_page(browser, live_shop.url, "bob", path=path)

    await buy(alice, item["id"], 2)

    form = buy_form(alice, item["id"])
    await expect(form.locator("[data-buy-message]")).to_have_text(
        re.compile(rf"^Bought 2 × {re.escape(item['name'])}\. Order #\d+ is confirmed\.$")
    )
    await expect(hold_timer(alice, item["id"])).to_be_hidden()
    await expect(form.get_by_label("Quantity")).to_be_focused()
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 2))
    after = item_by_sku(live_shop.url, "SS-009")
    assert (after["on_hand"], after["held"]) == (item["on_hand"] - 2, 0)


async def test_a_reload_finds_the_hold_still_counting_down_and_confirm_buys_the_held_units(
    live_shop, browser
):
    item = item_by_sku(live_shop.url, "DK-006")
    bob = await shopper_page(browser, live_shop.url, "bob", path=f"/items/{item['id']}/")
    await hold(bob, item["id"], 2)
    await expect(hold_timer(bob, item["id"])).to_be_visible()

    await bob.reload()

    form = buy_form(bob, item["id"])
    await expect(hold_timer(bob, item["id"])).to_have_text(
        re.compile(r"^Held for you: (10:00|9:[0-5]\d)$")
    )
    await expect(form.locator("[data-confirm-text]")).to_have_text(
        f"Buy 2 × {item['name']} for {float(item['price']) * 2:.2f}?"
    )
    await form.get_by_role("button", name="Confirm purchase").click()
    await expect(form.locator("[data-buy-message]")).to_have_text(
        re.compile(rf"^Bought 2 × {re.escape(item['name'])}\. Order #\d+ is confirmed\.$")
    )
    after = item_by_sku(live_shop.url, "DK-006")
    assert (after["on_hand"], after["held"]) == (item["on_hand"] - 2, 0)


async def test_only_n_left_appears_live_when_another_shopper_buys_down_to_the_threshold(
    live_shop, browser
):
    item = item_by_sku(live_shop.url, "MC-008")
    assert item["quantity"] == LOW_STOCK_AT + 1
    bob = await shopper_page(browser, live_shop.url, "bob")
    alice = await shopper_page(browser, live_shop.url, "alice", path=f"/items/{item['id']}/")
    await expect(low_stock(bob, item["id"])).to_be_hidden()

    await buy(alice, item["id"])

    await expect(low_stock(bob, item["id"])).to_have_text(f"Only {LOW_STOCK_AT} left")
    await expect(low_stock(bob, item["id"])).to_be_visible()
    await expect(low_stock(alice, item["id"])).to_have_text(f"Only {LOW_STOCK_AT} left")

    await buy(alice, item["id"], LOW_STOCK_AT - 1)
    await expect(low_stock(bob, item["id"])).to_have_text("Only 1 left")

    await buy(alice, item["id"])
    await expect(stock_of(bob, item["id"])).to_have_text("0")
    await expect(low_stock(bob, item["id"])).to_be_hidden()
    await expect(
        bob.locator(f'[data-item-card="{item["id"]}"]').get_by_text("Sold out")
    ).to_be_visible()


async def test_a_hold_that_runs_out_says_so_its_units_return_live_and_try_again_holds_anew(
    short_hold_shop, browser
):
    item = item_by_sku(short_hold_shop.url, "WC-005")
    path = f"/items/{item['id']}/"
    alice = await shopper_page(browser, short_hold_shop.url, "alice", path=path)
    bob = await shopper_page(browser, short_hold_shop.url, "bob", path=path)
    form = buy_form(alice, item["id"])
    await hold(alice, item["id"], 2)
    await expect(hold_timer(alice, item["id"])).to_have_text(
        re.compile(rf"^Held for you: 0:0[1-{HOLD_SECONDS}]$")
    )
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 2))

    message = form.locator("[data-buy-message]")
    await expect(message).to_have_text(
        f"Your hold on 2 × {item['name']} expired; its units went back on sale."
    )
    try_again = form.get_by_role("button", name="Try again")
    await expect(try_again).to_be_focused()
    await expect(form.get_by_role("button", name="Confirm purchase")).to_be_hidden()
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"]))

    await try_again.click()

    await expect(hold_timer(alice, item["id"])).to_be_visible()
    await expect(form.get_by_role("button", name="Confirm purchase")).to_be_focused()
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 2))


async def test_confirm_after_the_shop_ended_the_hold_says_it_expired_and_sells_nothing(
    short_hold_shop, browser
):
    item = item_by_sku(short_hold_shop.url, "LP-011")
    path = f"/items/{item['id']}/"
    alice = await shopper_page(browser, short_hold_shop.url, "alice", path=path)
    bob = await shopper_page(browser, short_hold_shop.url, "bob", path=path)
    # Alice's page stands still (a laptop asleep, a frozen tab): its countdown never ends.
    await alice.clock.pause_at(datetime.now() + timedelta(seconds=1))
    await hold(alice, item["id"])
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"] - 1))
    # The shop gives the units back once the hold's time is up.
    await expect(stock_of(bob, item["id"])).to_have_text(str(item["quantity"]))

    form = buy_form(alice, item["id"])
    await form.get_by_role("button", name="Confirm purchase").click()

    await expect(form.locator("[data-buy-message]")).to_have_text(
        f"Your hold on 1 × {item['name']} expired; its units went back on sale."
    )
    await expect(form.get_by_role("button", name="Try again")).to_be_focused()
    assert item_by_sku(short_hold_shop.url, "LP-011")["on_hand"] == item["on_hand"]
