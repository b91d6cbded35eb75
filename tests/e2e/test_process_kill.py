"""A server process killed under traffic: no half-done purchase, and its clients recover.

Its sockets reconnect to the other process, subscribe again, and converge to the committed
quantity; in PostgreSQL every order has its stock movement and every sale its order.
"""

import asyncio

import psycopg
import pytest

from tests.e2e.clients import ReconnectingWatcher, all_reach
from tests.servers import http_json, running_server, token_for
from tests.services import needs_services

pytestmark = needs_services

ITEM = 8


@pytest.fixture
def shop(demo_shop):
    with running_server(demo_shop.env) as doomed, running_server(demo_shop.env) as survivor:
        yield demo_shop.database, doomed, survivor


async def test_killing_a_server_under_traffic_leaves_no_half_purchase_and_clients_converge(shop):
    database, doomed, survivor = shop
    token = token_for(survivor.url, "bob")
    staff = token_for(survivor.url, "staff")
    assert (
        http_json("POST", f"{survivor.url}/api/items/{ITEM}/restock", {"quantity": 500}, staff)[0]
        == 200
    )

    clients = [
        ReconnectingWatcher([doomed.ws_url, survivor.ws_url], token, ITEM) for _ in range(10)
    ]
    runs = [asyncio.create_task(client.run()) for client in clients]
    await asyncio.sleep(0.5)

    statuses = []

    async def buyer(server, count):
        for _ in range(count):
            try:
                status, _ = await asyncio.to_thread(
                    http_json,
                    "POST",
                    f"{server.url}/api/items/{ITEM}/purchase",
                    {"quantity": 1},
                    token,
                )
            except OSError:
                status = "connection lost"  # the process died under this request
            statuses.append(status)

    buyers = [asyncio.create_task(buyer(doomed, 40)), asyncio.create_task(buyer(survivor, 40))]
    await asyncio.sleep(0.3)
    doomed.kill()
    await asyncio.gather(*buyers)

    try:
        final = http_json("GET", f"{survivor.url}/api/items/{ITEM}")[1]
        await all_reach(clients, final["version"])
    finally:
        for run in runs:
            run.cancel()

    assert all(len(client.closes) == 1 for client in clients)  # one drop, then the survivor
    assert {client.quantity for client in clients} == {final["quantity"]}
    assert statuses.count(201) >= 40  # the survivor's sales at least

    with psycopg.connect(database) as db:
        orders_without_movement = db.execute(
            "SELECT count(*) FROM shop_order o LEFT JOIN shop_stockmovement m ON m.order_id = o.id"
            " WHERE m.id IS NULL"
        ).fetchone()[0]
        sales_without_order = db.execute(
            "SELECT count(*) FROM shop_stockmovement WHERE reason = 'purchase' AND order_id IS NULL"
        ).fetchone()[0]
        quantity, version = db.execute(
            "SELECT quantity, version FROM shop_item WHERE id = %s", (ITEM,)
        ).fetchone()
        versions, net = db.execute(
            "SELECT array_agg(version ORDER BY version), sum(delta) FROM shop_stockmovement"
            " WHERE item_id = %s",
            (ITEM,),
        ).fetchone()
        sold = db.execute(
            "SELECT coalesce(sum(quantity), 0) FROM shop_order WHERE item_id = %s", (ITEM,)
        ).fetchone()[0]

    assert orders_without_movement == 0 and sales_without_order == 0
    # One movement per version, the opening stock's included: none lost, none doubled.
    assert versions == list(range(1, version + 1))
    assert quantity == net
    # A sale whose answer died with the process may have committed; none beyond those.
    assert statuses.count(201) <= sold <= statuses.count(201) + statuses.count("connection lost")
