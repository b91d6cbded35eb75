"""A real browser for tests: Playwright driving Debian's Chromium, never a downloaded one.

`.ci/run` installs /usr/bin/chromium when it is absent. Without it these tests skip with the
reason, and fail under REQUIRE_SERVICES=1 like every other missing service.
"""

import os
import shutil
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.servers import DEMO_PASSWORD, ROOT, http_json
from tests.services import POSTGRES, REDIS_URL

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Screenshots the tests take of the pages; the README shows the best of them (docs/screenshots).
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"

# Generous bounds for a shared 2-core machine; the assertions of speed are explicit and separate.
UI_TIMEOUT_MS = 10_000
expect.set_options(timeout=UI_TIMEOUT_MS)


# The shopper's pages in a browser are tested once, in the first pass of `make test`: the one
# every checkout runs, services or not. The second pass runs the same server code on
# PostgreSQL and Redis through real sockets without a browser (test_live_server.py,
# test_scale_out.py, test_presence_scale_out.py, ...); the browser there cost about 1.5 of
# the suite's minutes and proved nothing more. The flash sale's pages run there (they need
# PostgreSQL's concurrency).
pages_in_first_pass = pytest.mark.skipif(
    POSTGRES and bool(REDIS_URL),
    reason="the pages' browser tests run in the first pass of `make test`",
)


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)


@asynccontextmanager
async def chromium():
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def shopper_page(
    browser: Browser,
    base_url: str,
    username: str,
    *,
    path: str = "/",
    viewport: dict = DESKTOP,
    color_scheme: str = "light",
) -> Page:
    """A page of a browser context of its own (its own cookies), logged in as `username`."""
    context = await browser.new_context(
        base_url=base_url, viewport=viewport, color_scheme=color_scheme
    )
    page = await context.new_page()
    await page.goto(f"/login/?next={path}")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{base_url}{path}")
    await expect_live(page)
    return page


async def expect_live(page: Page) -> None:
    """The page's numbers are all current: its socket is open and every snapshot is in."""
    await expect(page.locator("[data-live]")).to_have_attribute("data-live", "true")


def register(base_url: str, username: str) -> None:
    status, body = http_json(
        "POST", f"{base_url}/api/auth/register", {"username": username, "password": DEMO_PASSWORD}
    )
    assert status == 201, body


def item_by_sku(base_url: str, sku: str) -> dict:
    status, body = http_json("GET", f"{base_url}/api/items")
    assert status == 200, body
    return next(item for item in body["results"] if item["sku"] == sku)


def stock_of(page: Page, item_id: int, field: str | None = None):
    """The number a page shows for an item: what can be bought, or `field` (on_hand, held)."""
    if field is None:
        return page.locator(f'[data-stock-item="{item_id}"]:not([data-stock-field])')
    return page.locator(f'[data-stock-item="{item_id}"][data-stock-field="{field}"]')


def buy_form(page: Page, item_id: int):
    return page.locator(f'[data-buy-form][data-item="{item_id}"]')


def hold_timer(page: Page, item_id: int):
    """The countdown of the shopper's hold on an item: "Held for you: 9:41"."""
    return buy_form(page, item_id).get_by_role("timer")


async def hold(page: Page, item_id: int, quantity: int = 1) -> None:
    """Buy's first step as a shopper takes it: quantity, then Buy, which asks the shop to hold
    the units; the caller expects what follows (the countdown, or why there is none)."""
    form = buy_form(page, item_id)
    await form.get_by_label("Quantity").fill(str(quantity))
    await form.get_by_role("button", name="Buy").click()


async def buy(page: Page, item_id: int, quantity: int = 1) -> None:
    """Buy through the page as a shopper does: quantity, Buy (the units are held for them while
    the countdown runs), Confirm purchase."""
    await hold(page, item_id, quantity)
    await expect(hold_timer(page, item_id)).to_contain_text("Held for you: ")
    await buy_form(page, item_id).get_by_role("button", name="Confirm purchase").click()


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=path, full_page=True)
    return path
