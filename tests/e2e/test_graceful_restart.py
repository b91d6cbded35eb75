"""Restarts: SIGTERM closes sockets with 1012 at once, and a rolling restart of two processes
under load loses no purchase and leaves no subscriber stale."""

import asyncio
import json
import os
import signal
import time
import uuid
from contextlib import ExitStack

import pytest
import websockets

from tests.e2e.clients import ReconnectingWatcher, all_reach
from tests.servers import http_json, make_serve_command, run_command, running_server, token_for
from tests.services import needs_services

pytestmark = needs_services

ITEM = 11


@pytest.fixture
def shop_env(demo_shop):
    return demo_shop.env


def workers(count: int):
    return lambda port: [*run_command(port), "--workers", str(count)]


@pytest.mark.parametrize("count", [1, 2], ids=["one process", "two workers"])
async def test_sigterm_closes_every_socket_with_1012_and_the_process_exits(shop_env, count):
    with running_server(shop_env, command=workers(count)) as server:
        token = token_for(server.url, "alice")
        sockets = [
            await websockets.connect(f"{server.ws_url}/ws/stock/?token={token}") for _ in range(10)
        ]
        for socket in sockets:
            await socket.recv()
        started = time.monotonic()
        server.process.terminate()  # SIGTERM to the server alone, as an orchestrator sends it
        for socket in sockets:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 5)
            assert closed.value.rcvd.code == 1012
        await asyncio.to_thread(server.process.wait, 15)
        assert time.monotonic() - started < 15


async def test_a_rolling_restart_under_load_loses_no_purchase_and_leaves_no_one_stale(shop_env):
    with ExitStack() as stack:
        # Two `make serve`, as deployed; a restart is SIGTERM to the process group.
        servers = [
            stack.enter_context(running_server(shop_env, command=make_serve_command))
            for _ in range(2)
        ]
        ports = [int(server.url.rsplit(":", 1)[1]) for server in servers]
        urls = [server.url for server in servers]
        token = token_for(servers[0].url, "bob")
        staff = token_for(servers[0].url, "staff")
        assert (
            http_json("POST", f"{urls[0]}/api/items/{ITEM}/restock", {"quantity": 1000}, staff)[0]
            == 200
        )
        clients = [
            ReconnectingWatcher([server.ws_url for server in servers], token, ITEM)
            for _ in range(10)
        ]
        runs = [asyncio.create_task(client.run()) for client in clients]

        answered = []

        async def purchase(n):
            """One purchase, retried on the other process with the same key until answered."""
            key = str(uuid.uuid4())
            for attempt in range(50):
                url = urls[(n + attempt) % 2]
                try:
                    status, body = await asyncio.to_thread(_purchase, url, token, key)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                if status == 201:
                    answered.append(body["order"]["id"])
                    return
                await asyncio.sleep(0.1)
            pytest.fail(f"purchase {n} was never answered")

        async def load():
            for n in range(60):
                await purchase(n)
                await asyncio.sleep(0.05)

        buying = asyncio.create_task(load())
        for index in (0, 1):
            await asyncio.sleep(1)
            # Restart one process: SIGTERM, wait for it to exit, start it again on its port.
            old = servers[index]
            await asyncio.to_thread(os.killpg, old.process.pid, signal.SIGTERM)
            await asyncio.to_thread(old.process.wait, 20)
            servers[index] = await asyncio.to_thread(
                stack.enter_context,
                running_server(shop_env, port=ports[index], command=make_serve_command),
            )
        await buying

        final = http_json("GET", f"{urls[0]}/api/items/{ITEM}")[1]
        try:
            await all_reach(clients, final["version"])
        finally:
            for run in runs:
                run.cancel()

    assert len(answered) == len(set(answered)) == 60  # every purchase once, none twice
    assert all(1012 in client.closes for client in clients)


def _purchase(url, token, key):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/api/items/{ITEM}/purchase",
        data=b'{"quantity": 1}',
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_sigterm_lets_in_flight_purchases_finish_and_answer(demo_shop):
    """Every purchase the stopping process committed was answered: none cut off halfway."""
    import psycopg

    with running_server(demo_shop.env) as server:
        token = token_for(server.url, "alice")
        staff = token_for(server.url, "staff")
        assert (
            http_json("POST", f"{server.url}/api/items/{ITEM}/restock", {"quantity": 100}, staff)[0]
            == 200
        )

        async def buy():
            try:
                return (await asyncio.to_thread(_purchase, server.url, token, str(uuid.uuid4())))[0]
            except OSError:
                return "refused"  # arrived after the process stopped accepting

        purchases = [asyncio.create_task(buy()) for _ in range(20)]
        await asyncio.sleep(0.02)
        server.process.terminate()
        statuses = await asyncio.gather(*purchases)
        await asyncio.to_thread(server.process.wait, 15)

    with psycopg.connect(demo_shop.database) as db:
        sold = db.execute("SELECT count(*) FROM shop_order WHERE item_id = %s", (ITEM,)).fetchone()[
            0
        ]
    assert statuses.count(201) > 0
    assert sold == statuses.count(201), statuses
    assert set(statuses) <= {201, "refused"}
