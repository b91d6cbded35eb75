"""The pages themselves: served whole by the shop, readable, and usable on a phone."""

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    expect_live,
    item_by_sku,
    pages_in_first_pass,
    screenshot,
    shopper_page,
)
from tests.servers import http_json, token_for

pytestmark = pages_in_first_pass

PAGES = ["/", "/items/{item}/", "/orders/", "/staff/stock/"]

# The page's text below WCAG 2.1 AA contrast, as "tag.class "text" ratio" lines.
CONTRAST_FAILURES = (Path(__file__).parent / "contrast.js").read_text()


def pages_of(live_shop) -> list[str]:
    item = item_by_sku(live_shop.url, "HP-003")
    return [path.format(item=item["id"]) for path in PAGES]


async def test_every_page_loads_everything_from_the_shop_itself(live_shop, browser):
    page = await shopper_page(browser, live_shop.url, "staff")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path in pages_of(live_shop):
        await page.goto(path)
        await expect_live(page)
    foreign = [
        url for url in requested if not url.startswith((live_shop.url, live_shop.ws_url, "data:"))
    ]
    assert requested and foreign == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_text_on_every_page_meets_the_wcag_aa_contrast_ratio(live_shop, browser, scheme):
    page = await shopper_page(browser, live_shop.url, "staff", color_scheme=scheme)
    for path in pages_of(live_shop):
        await page.goto(path)
        await expect_live(page)
        failures = await page.evaluate(CONTRAST_FAILURES)
        assert failures == [], f"{path}: {failures}"


async def test_every_page_fits_a_phone_screen_without_sideways_scrolling(live_shop, browser):
    page = await shopper_page(browser, live_shop.url, "staff", viewport=PHONE)
    for path in pages_of(live_shop):
        await page.goto(path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide"
    await page.goto(pages_of(live_shop)[1])
    await expect(page.get_by_role("button", name="Buy")).to_be_in_viewport()


async def test_screenshots_of_the_live_catalog_and_item_page_on_desktop_and_phone(
    live_shop, browser
):
    sold_out = item_by_sku(live_shop.url, "CB-012")
    status, _ = http_json(
        "POST",
        f"{live_shop.url}/api/items/{sold_out['id']}/purchase",
        {"quantity": sold_out["quantity"]},
        token_for(live_shop.url, "alice"),
    )
    assert status == 201
    item = item_by_sku(live_shop.url, "HP-003")
    path = f"/items/{item['id']}/"
    presence = f'[data-presence-item="{item["id"]}"]'
    viewers = {
        prefix: await shopper_page(browser, live_shop.url, username, path=path, viewport=viewport)
        for username, viewport, prefix in (("alice", DESKTOP, ""), ("bob", PHONE, "phone-"))
    }
    for prefix, page in viewers.items():
        await expect(page.locator(presence)).to_have_text("2 people are looking at this")
        assert (await screenshot(page, f"{prefix}item")).stat().st_size > 0

    for viewport, prefix in ((DESKTOP, ""), (PHONE, "phone-")):
        page = await shopper_page(browser, live_shop.url, "staff", viewport=viewport)
        await expect(page.locator(presence)).to_have_text("2 looking")
        await expect(page.locator(f'[data-item-card="{sold_out["id"]}"]')).to_contain_text(
            "Sold out"
        )
        assert (await screenshot(page, f"{prefix}catalog")).stat().st_size > 0
