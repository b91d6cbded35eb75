"""Holds over two server processes sharing PostgreSQL and Redis: both sweep expired holds at
the same moment, and each hold's units come back exactly once, to watchers on either."""

import asyncio
import json

import pytest
import websockets

from tests.servers import http_json, running_server, token_for
from tests.services import needs_services

pytestmark = needs_services

HOLD_SECONDS = 2


@pytest.fixture
def servers(demo_shop):
    env = {**demo_shop.env, "HOLD_SECONDS": str(HOLD_SECONDS)}
    with running_server(env) as first, running_server(env) as second:
        yield first, second


async def settled_stock(socket, items: dict[int, dict], within: float) -> dict[int, dict]:
    """The stock messages a socket gets until every item shows nothing held."""
    latest: dict[int, dict] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(latest) < len(items) or any(message["held"] for message in latest.values()):
        message = json.loads(await asyncio.wait_for(socket.recv(), deadline - loop.time()))
        if message["type"] == "stock":
            latest[message["item"]] = message
    return latest


async def test_holds_expiring_on_two_processes_return_each_unit_once(servers):
    first, second = servers
    status, page = http_json("GET", f"{first.url}/api/items")
    items = {item["id"]: item for item in page["results"] if item["quantity"] >= 4}
    tokens = {first: token_for(first.url, "alice"), second: token_for(second.url, "bob")}
    watching = await websockets.connect(f"{second.ws_url}/ws/stock/?token={tokens[second]}")
    await watching.send(json.dumps({"action": "subscribe", "items": list(items)}))
    snapshots = set()
    while len(snapshots) < len(items):
        message = json.loads(await asyncio.wait_for(watching.recv(), 5))
        if message["type"] == "stock":
            snapshots.add(message["item"])

    for server, token in tokens.items():
        for item_id in items:
            status, body = http_json(
                "POST", f"{server.url}/api/items/{item_id}/holds", {"quantity": 2}, token
            )
            assert status == 201, body
    for item_id, item in items.items():
        status, body = http_json("GET", f"{first.url}/api/items/{item_id}")
        assert (body["held"], body["quantity"]) == (4, item["quantity"] - 4)

    settled = await settled_stock(watching, items, within=HOLD_SECONDS + 10)
    await watching.close()

    for item_id, item in items.items():
        assert (settled[item_id]["on_hand"], settled[item_id]["held"]) == (item["on_hand"], 0)
        status, body = http_json("GET", f"{second.url}/api/items/{item_id}")
        assert (body["on_hand"], body["held"], body["quantity"]) == (
            item["on_hand"],
            0,
            item["quantity"],
        )
    for server, token in tokens.items():
        assert http_json("GET", f"{server.url}/api/holds", token=token)[1]["results"] == []
    for server in servers:
        assert "hold expiry failed" not in server.log.read_text()
