"""Stockwire as a new user meets it: the wheel, a fresh virtualenv, a fresh `startproject`.

Every other test imports stockwire from this checkout, beside the demo that shows it at work,
so none of them would notice a wheel without its static files, an import of the demo's code,
or a step the README leaves out. This one builds the wheel, installs it where the demo
cannot be imported, follows the README's steps to add live stock to a new project, and
serves that project with daphne's runserver and with uvicorn and Stockwire's frame writer.
"""

import asyncio
import json
import os
import zipfile
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.package.new_project import ITEM
from tests.package.serving import Server, http, run, user_env
from tests.races import at_once

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the drop-in test serves a project of its own on SQLite, apart from DATABASE_URL "
        "and REDIS_URL: it runs in the first pass only",
    ),
    # The first test to run builds the wheel and pip installs a virtualenv.
    pytest.mark.timeout(600),
]


# --- a client of /ws/stock/ -----------------------------------------------------------------


async def open_socket(server: Server, origin: str | None = None) -> ClientConnection:
    return await connect(server.stock_socket, origin=origin or server.url, open_timeout=5)


@asynccontextmanager
async def watching(server: Server, item: int = ITEM):
    """A socket watching `item`: the socket, its hello and its snapshot; closed after."""
    async with await open_socket(server) as ws:
        hello = await next_message(ws, within=2)
        await ws.send(json.dumps({"action": "subscribe", "items": [item]}))
        (snapshot,) = await stock_until(ws, lambda frame: frame["item"] == item, within=2)
        yield ws, hello, snapshot


async def next_message(ws: ClientConnection, *, within: float) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


async def stock_until(
    ws: ClientConnection, done: Callable[[dict], bool], *, within: float
) -> list[dict]:
    """The stock frames received until one is `done`; fails after `within` seconds."""
    frames: list[dict] = []

    async def read() -> list[dict]:
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "stock":
                frames.append(message)
                if done(message):
                    return frames

    try:
        return await asyncio.wait_for(read(), within)
    except TimeoutError:
        pytest.fail(f"no such stock frame within {within} s; received {frames}")


# --- the tests ------------------------------------------------------------------------------


def test_the_wheel_holds_the_app_its_client_script_template_tag_and_type_marker_and_no_demo(
    wheel,
):
    names = zipfile.ZipFile(wheel).namelist()
    for expected in (
        "stockwire/__init__.py",
        "stockwire/static/stockwire/stockwire.js",
        "stockwire/templatetags/stockwire.py",
        "stockwire/py.typed",
    ):
        assert expected in names
    demo_paths = [n for n in names if n.split("/")[0] in {"shop", "config", "demo"}]
    assert demo_paths == []
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"stockwire"}


def test_a_fresh_virtualenv_imports_stockwire_from_the_wheel_and_neither_the_shop_nor_config(
    venv, tmp_path
):
    probe = (
        "import importlib, json, sys\n"
        "found = {}\n"
        "for name in ('stockwire', 'shop', 'config'):\n"
        "    try:\n"
        "        found[name] = importlib.import_module(name).__file__\n"
        "    except ImportError:\n"
        "        found[name] = None\n"
        "print(json.dumps(found))\n"
    )
    out = run([venv / "bin" / "python", "-c", probe], cwd=tmp_path, env=user_env(venv))
    found = json.loads(out)
    assert found["stockwire"] is not None
    assert Path(found["stockwire"]).is_relative_to(venv), found["stockwire"]
    assert found["shop"] is None
    assert found["config"] is None


def test_a_new_project_with_stockwire_added_as_the_readme_says_passes_djangos_checks(venv, project):
    out = run(
        [venv / "bin" / "python", "manage.py", "check", "--fail-level", "WARNING"],
        cwd=project,
        env=user_env(venv),
    )
    assert "System check identified no issues" in out


async def test_a_watching_socket_is_greeted_then_gets_the_products_stock_as_a_snapshot(
    server, five_in_stock
):
    _, version = five_in_stock
    async with watching(server) as (ws, hello, snapshot):
        assert hello["type"] == "hello"
        assert hello["user"] is None  # a visitor: STOCKWIRE["ANONYMOUS"]
        assert snapshot == {
            "type": "stock",
            "item": ITEM,
            "quantity": 5,
            "on_hand": 5,
            "held": 0,
            "version": version,
        }
        if server.name == "uvicorn":
            # The frame writer writes only to sockets without an extension such as deflate.
            assert ws.protocol.extensions == []


async def test_a_sale_by_the_projects_own_view_reaches_a_watching_socket_within_a_second(
    server, five_in_stock
):
    async with watching(server) as (ws, _, snapshot):
        status, sale = await asyncio.to_thread(server.buy)
        assert status == 200, sale
        assert sale["quantity"] == 4
        assert sale["version"] > snapshot["version"]
        frames = await stock_until(ws, lambda frame: frame["quantity"] == 4, within=1)
        assert frames[-1] == {"type": "stock", "item": ITEM, **sale, "on_hand": 4, "held": 0}


async def test_ten_buyers_of_the_last_four_units_at_once_get_four_sales_and_six_sold_outs(
    server, five_in_stock
):
    async with watching(server) as (ws, _, snapshot):
        assert (await asyncio.to_thread(server.buy))[0] == 200  # 4 left
        answers = await asyncio.to_thread(at_once, [server.buy] * 10)

        sold = [body for status, body in answers if status == 200]
        sold_out = [body for status, body in answers if status == 409]
        assert (len(sold), len(sold_out)) == (4, 6), answers
        assert sorted(body["quantity"] for body in sold) == [0, 1, 2, 3]
        assert all(body["available"] == 0 for body in sold_out)

        frames = await stock_until(ws, lambda frame: frame["quantity"] == 0, within=2)
        versions = [snapshot["version"]] + [frame["version"] for frame in frames]
        assert versions == sorted(set(versions)), frames  # never back, never twice
        assert frames[-1]["version"] == max(body["version"] for body in sold)
        assert all(frame["quantity"] >= 0 for frame in frames)


async def test_a_change_nobody_published_reaches_a_watching_socket_by_the_resync_within_3_s(
    server, five_in_stock
):
    async with watching(server) as (ws, _, snapshot):
        quantity, version = await asyncio.to_thread(server.set_stock_unpublished, 7)
        assert (quantity, version) == (7, snapshot["version"] + 1)
        frames = await stock_until(ws, lambda frame: frame["quantity"] == 7, within=3)
        assert frames[-1] == {
            "type": "stock",
            "item": ITEM,
            "quantity": 7,
            "on_hand": 7,
            "held": 0,
            "version": version,
        }


async def test_a_socket_from_a_foreign_origin_is_closed_with_4403_before_any_message(server):
    async with await open_socket(server, origin="http://evil.example") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 2)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


def test_the_projects_page_loads_the_stockwire_script_and_shows_live_stock(server, five_in_stock):
    quantity, version = five_in_stock
    status, _, body = http("GET", f"{server.url}/")
    assert status == 200
    page = body.decode()
    assert '<script src="/static/stockwire/stockwire.js" defer data-autoconnect></script>' in page
    assert f'<span data-stock-item="{ITEM}" data-version="{version}">{quantity}</span>' in page


@pytest.mark.parametrize("server", ["runserver"], indirect=True)
def test_runserver_serves_the_client_script_from_the_installed_app(server, wheel):
    status, headers, body = http("GET", f"{server.url}/static/stockwire/stockwire.js")
    assert status == 200
    assert "javascript" in headers["Content-Type"]
    assert body == zipfile.ZipFile(wheel).read("stockwire/static/stockwire/stockwire.js")
