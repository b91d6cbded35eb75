"""The Buy flow in a real browser: quantity, a hold and its confirmation, and a clear message
for each failure."""

import uuid

import pytest
from playwright.async_api import expect

from tests.e2e.browser import (
    buy,
    buy_form,
    hold,
    hold_timer,
    item_by_sku,
    pages_in_first_pass,
    register,
    shopper_page,
    stock_of,
)
from tests.e2e.conftest import shop_site
from tests.servers import running_server

pytestmark = pages_in_first_pass

PURCHASES_PER_MINUTE = 3
HOLD_LIMIT_PER_ITEM = 5  # the demo's default


@pytest.fixture(scope="module")
def strict_shop():
    """A shop whose purchase limit a shopper reaches in a test; each test has its own shopper."""
    with (
        shop_site(PURCHASE_RATE=f"{PURCHASES_PER_MINUTE}/min") as env,
        running_server(env) as server,
    ):
        yield server


@pytest.fixture
def new_shopper(strict_shop) -> str:
    username = f"shopper-{uuid.uuid4().hex[:8]}"
    register(strict_shop.url, username)
    return username


async def test_buying_more_than_is_left_says_how_many_are_left_and_sells_nothing(
    strict_shop, browser, new_shopper
):
    # 3 units: asking for 4 stays within the hold limit (5), so it is the stock that refuses.
    item = item_by_sku(strict_shop.url, "DK-006")
    page = await shopper_page(browser, strict_shop.url, new_shopper, path=f"/items/{item['id']}/")

    await hold(page, item["id"], item["quantity"] + 1)

    message = buy_form(page, item["id"]).locator("[data-buy-message]")
    await expect(message).to_have_text(
        f"Only {item['quantity']} left of {item['name']}. Lower the quantity and try again."
    )
    await expect(buy_form(page, item["id"]).get_by_label("Quantity")).to_be_focused()
    await expect(stock_of(page, item["id"])).to_have_text(str(item["quantity"]))
    assert item_by_sku(strict_shop.url, "DK-006")["quantity"] == item["quantity"]


async def test_asking_for_more_than_one_may_hold_says_the_limit_and_holds_nothing(
    strict_shop, browser, new_shopper
):
    item = item_by_sku(strict_shop.url, "MN-004")
    assert item["quantity"] > HOLD_LIMIT_PER_ITEM
    page = await shopper_page(browser, strict_shop.url, new_shopper, path=f"/items/{item['id']}/")

    await hold(page, item["id"], HOLD_LIMIT_PER_ITEM + 1)

    await expect(buy_form(page, item["id"]).locator("[data-buy-message]")).to_have_text(
        f"You can hold at most {HOLD_LIMIT_PER_ITEM} units at a time. "
        "Lower the quantity, or buy or cancel what you hold first."
    )
    await expect(hold_timer(page, item["id"])).to_be_hidden()
    assert item_by_sku(strict_shop.url, "MN-004")["held"] == 0


async def test_a_quantity_that_is_not_a_whole_number_is_refused_before_confirmation(
    strict_shop, browser, new_shopper
):
    item = item_by_sku(strict_shop.url, "WC-005")
    page = await shopper_page(browser, strict_shop.url, new_shopper)
    form = buy_form(page, item["id"])
    for typed in ("0", "-2", "1.5", ""):
        await form.get_by_label("Quantity").fill(typed)
        await form.get_by_role("button", name="Buy").click()
        await expect(form.locator("[data-buy-message]")).to_have_text(
            "Enter a whole number of at least 1."
        )
        await expect(form.get_by_role("button", name="Confirm purchase")).to_be_hidden()


async def test_a_shopper_can_buy_with_the_keyboard_alone_and_escape_cancels(
    strict_shop, browser, new_shopper
):
    item = item_by_sku(strict_shop.url, "LS-007")
    page = await shopper_page(browser, strict_shop.url, new_shopper, path=f"/items/{item['id']}/")
    form = buy_form(page, item["id"])
    quantity = form.get_by_label("Quantity")

    # Tab from the top of the page until the quantity field has the focus.
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await quantity.evaluate("el => el === document.activeElement"):
            break
    await expect(quantity).to_be_focused()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("2")
    await page.keyboard.press("Enter")
    confirm = form.get_by_role("button", name="Confirm purchase")
    await expect(confirm).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(confirm).to_be_hidden()
    await expect(quantity).to_be_focused()
    assert item_by_sku(strict_shop.url, "LS-007")["quantity"] == item["quantity"]

    await page.keyboard.press("Enter")
    await expect(confirm).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(form.locator("[data-buy-message]")).to_contain_text(f"Bought 2 × {item['name']}")
    await expect(stock_of(page, item["id"])).to_have_text(str(item["quantity"] - 2))


async def test_a_shopper_logged_out_in_another_tab_is_told_to_log_in(
    strict_shop, browser, new_shopper
):
    item = item_by_sku(strict_shop.url, "SS-009")
    page = await shopper_page(browser, strict_shop.url, new_shopper)
    other_tab = await page.context.new_page()
    await other_tab.goto("/orders/")
    await other_tab.get_by_role("button", name="Log out").click()
    await other_tab.wait_for_url("**/login/**")

    await hold(page, item["id"])

    message = buy_form(page, item["id"]).locator("[data-buy-message]")
    await expect(message).to_have_text("You are logged out. Log in to buy.")
    await expect(message.get_by_role("link", name="Log in")).to_have_attribute(
        "href", "/login/?next=%2F"
    )
    assert item_by_sku(strict_shop.url, "SS-009")["quantity"] == item["quantity"]


async def test_a_shopper_over_the_purchase_limit_is_told_to_wait(strict_shop, browser, new_shopper):
    item = item_by_sku(strict_shop.url, "LP-011")
    page = await shopper_page(browser, strict_shop.url, new_shopper, path=f"/items/{item['id']}/")
    message = buy_form(page, item["id"]).locator("[data-buy-message]")
    for bought in range(1, PURCHASES_PER_MINUTE + 1):
        await buy(page, item["id"])
        await expect(stock_of(page, item["id"])).to_have_text(str(item["quantity"] - bought))

    await buy(page, item["id"])

    await expect(message).to_contain_text("Too many attempts in a short time. Please wait")
    # Nothing more is sold; the hold keeps its unit for the shopper to confirm after the wait.
    await expect(
        buy_form(page, item["id"]).get_by_role("button", name="Confirm purchase")
    ).to_be_visible()
    await expect(stock_of(page, item["id"])).to_have_text(
        str(item["quantity"] - PURCHASES_PER_MINUTE - 1)
    )
    assert (
        item_by_sku(strict_shop.url, "LP-011")["on_hand"] == item["quantity"] - PURCHASES_PER_MINUTE
    )
