"""Several server processes sharing PostgreSQL and Redis are one shop.

Each server is started with `make serve` itself (migrations, collectstatic, check --deploy,
uvicorn), as a deployment would.
"""

import asyncio
import json

import pytest
import websockets

from tests.servers import demo_shop_env, http_json, make_serve_command, running_server, token_for
from tests.services import channel_prefix, needs_services, scratch_database

pytestmark = needs_services

PASSWORD = "stockwire-demo"


@pytest.fixture(scope="module")
def shop_env():
    with scratch_database() as url:
        env = demo_shop_env(
            DATABASE_URL=url,
            REDIS_URL=_redis_url(),
            CHANNEL_PREFIX=channel_prefix(),
            LOGIN_FAILURES_PER_ACCOUNT="3",
        )
        yield env


@pytest.fixture(scope="module")
def two_servers(shop_env):
    with running_server(shop_env, command=make_serve_command) as first:
        with running_server(shop_env, command=make_serve_command) as second:
            yield first, second


def _redis_url():
    from django.conf import settings

    return settings.REDIS_URL


async def next_of_type(socket, kind, wait=5):
    while (message := json.loads(await asyncio.wait_for(socket.recv(), wait)))["type"] != kind:
        pass
    return message


async def watch(server, token, item_id):
    socket = await websockets.connect(f"{server.ws_url}/ws/stock/?token={token}")
    assert (await next_of_type(socket, "hello"))["user"]
    await socket.send(json.dumps({"action": "subscribe", "items": [item_id]}))
    snapshot = await next_of_type(socket, "stock")
    return socket, snapshot


async def buy(server, token, item_id, quantity=1):
    status, body = await asyncio.to_thread(
        http_json,
        "POST",
        f"{server.url}/api/items/{item_id}/purchase",
        {"quantity": quantity},
        token,
    )
    assert status == 201, body
    return body


@pytest.mark.parametrize("direction", ["first to second", "second to first"])
async def test_a_purchase_on_one_process_reaches_a_socket_on_the_other(two_servers, direction):
    watching, buying = two_servers if direction == "second to first" else two_servers[::-1]
    alice, bob = token_for(watching.url, "alice"), token_for(buying.url, "bob")
    item_id = 3 if direction == "first to second" else 4

    socket, snapshot = await watch(watching, alice, item_id)
    try:
        body = await buy(buying, bob, item_id)
        update = await next_of_type(socket, "stock")
    finally:
        await socket.close()

    assert update == {
        "type": "stock",
        "item": item_id,
        "quantity": snapshot["quantity"] - 1,
        "on_hand": snapshot["on_hand"] - 1,
        "held": 0,
        "version": snapshot["version"] + 1,
    }
    assert body["item"]["version"] == update["version"]


async def test_the_buyers_order_reaches_their_socket_on_another_process(two_servers):
    first, second = two_servers
    socket, _ = await watch(first, token_for(first.url, "alice"), 5)
    try:
        body = await buy(second, token_for(second.url, "alice"), 5, quantity=2)
        order = await next_of_type(socket, "order")
    finally:
        await socket.close()
    assert order["order"]["id"] == body["order"]["id"]


async def test_sockets_on_both_processes_only_move_forward_to_the_last_version(two_servers):
    """Versions may be coalesced for a socket that falls behind, but never go backwards."""
    first, second = two_servers
    token = token_for(first.url, "bob")
    sockets = [await watch(first, token, 9), await watch(second, token, 9)]
    try:
        start = sockets[0][1]["version"]
        for n in range(5):
            await buy(two_servers[n % 2], token, 9)
        for socket, _ in sockets:
            seen = [(await next_of_type(socket, "stock"))["version"]]
            while seen[-1] < start + 5:
                seen.append((await next_of_type(socket, "stock"))["version"])
            assert seen == sorted(set(seen)) and seen[-1] == start + 5
    finally:
        for socket, _ in sockets:
            await socket.close()


def test_failed_logins_on_one_process_hold_back_logins_on_the_other(two_servers):
    first, second = two_servers
    guess = {"username": "mallory", "password": "guess"}
    for _ in range(3):
        assert http_json("POST", f"{first.url}/api/auth/token", guess)[0] == 401

    status, body = http_json("POST", f"{second.url}/api/auth/token", guess)

    assert (status, body["error"]) == (429, "too_many_failed_logins")
