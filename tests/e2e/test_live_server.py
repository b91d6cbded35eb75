"""The served product over real sockets: uvicorn, HTTP and WebSocket clients in other tasks."""

import asyncio
import http.client
import json
import re
import time
import urllib.request

import pytest
import websockets

from config.server import KEEP_ALIVE_SECONDS
from tests.servers import (
    ROOT,
    demo_shop_env,
    http_json,
    running_server,
    scrape_metrics,
    token_for,
)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    env = demo_shop_env(DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('db') / 'shop.sqlite3'}")
    with running_server(env) as server:
        yield server


async def test_a_purchase_made_over_http_reaches_two_open_sockets(demo_server):
    base, ws_base = demo_server.url, demo_server.ws_url
    alice, bob = token_for(base, "alice"), token_for(base, "bob")
    item = http_json("GET", f"{base}/api/items")[1]["results"][0]

    async with (
        websockets.connect(f"{ws_base}/ws/stock/?token={alice}") as first,
        websockets.connect(f"{ws_base}/ws/stock/?token={bob}") as second,
    ):
        for socket in (first, second):
            assert json.loads(await socket.recv())["type"] == "hello"
            await socket.send(json.dumps({"action": "subscribe", "items": [item["id"]]}))
            assert json.loads(await socket.recv())["version"] == item["version"]

        status, body = await asyncio.to_thread(
            http_json, "POST", f"{base}/api/items/{item['id']}/purchase", {"quantity": 1}, bob
        )
        assert status == 201, body

        expected = {
            "type": "stock",
            "item": item["id"],
            "quantity": item["quantity"] - 1,
            "on_hand": item["on_hand"] - 1,
            "held": 0,
            "version": item["version"] + 1,
        }
        for socket in (first, second):
            while (message := json.loads(await asyncio.wait_for(socket.recv(), 5))).get(
                "type"
            ) != "stock":
                pass
            assert message == expected


async def test_a_bad_token_is_closed_with_4401_and_never_logged(demo_server):
    async with websockets.connect(
        f"{demo_server.ws_url}/ws/stock/?token=secret-looking-token"
    ) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd.code == 4401
    good = token_for(demo_server.url, "alice")
    async with websockets.connect(f"{demo_server.ws_url}/ws/stock/?token={good}") as socket:
        assert json.loads(await socket.recv())["type"] == "hello"

    await asyncio.sleep(0.2)
    log = demo_server.log.read_text()
    assert "websocket refused: invalid token" in log
    assert "/ws/stock/" in log
    assert "secret-looking-token" not in log and good not in log


async def test_a_frame_over_the_size_limit_closes_the_socket_with_1009(demo_server):
    good = token_for(demo_server.url, "alice")
    async with websockets.connect(f"{demo_server.ws_url}/ws/stock/?token={good}") as socket:
        await socket.recv()
        await socket.send(json.dumps({"action": "subscribe", "items": [1] * 8000}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd.code == 1009


async def test_metrics_of_the_served_process_count_its_sockets_and_sales(demo_server):
    token = token_for(demo_server.url, "alice")
    async with websockets.connect(f"{demo_server.ws_url}/ws/stock/?token={token}") as socket:
        await socket.recv()
        status, _ = await asyncio.to_thread(
            http_json, "POST", f"{demo_server.url}/api/items/2/purchase", {"quantity": 1}, token
        )
        assert status == 201
        metrics = await asyncio.to_thread(scrape_metrics, demo_server.url)
    assert 'stockwire_open_sockets{endpoint="/ws/stock"} 1.0' in metrics
    assert 'stockwire_purchases_total{outcome="sold"}' in metrics


def test_an_idle_keep_alive_connection_still_answers_after_uvicorns_default_5_s(demo_server):
    """A client that reuses its connection after a pause (nginx, a browser) is answered, not
    reset: the server keeps idle connections longer than its clients do."""
    connection = http.client.HTTPConnection(demo_server.url.removeprefix("http://"), timeout=10)
    connection.request("GET", "/healthz")
    assert connection.getresponse().read() == b'{"status": "ok"}'
    socket = connection.sock
    time.sleep(6)  # idle is what is under test: past uvicorn's default keep-alive (5 s)
    connection.request("GET", "/healthz")
    assert connection.getresponse().status == 200
    assert connection.sock is socket, "the server closed the idle connection"
    connection.close()


def test_nginx_lets_go_of_idle_upstream_connections_before_the_app_does():
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream stockwire \{(.*?)\}", config, re.S).group(1)
    nginx_seconds = int(re.search(r"keepalive_timeout (\d+)s;", upstream).group(1))
    assert nginx_seconds < KEEP_ALIVE_SECONDS


def test_a_fresh_server_exports_every_known_series_at_zero(tmp_path):
    env = demo_shop_env(DATABASE_URL=f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    with running_server(env) as server:
        metrics = scrape_metrics(server.url)
    for series in (
        'stockwire_open_sockets{endpoint="/ws/stock"} 0.0',
        'stockwire_open_sockets{endpoint="/notification/count"} 0.0',
        'stockwire_purchases_total{outcome="sold"} 0.0',
        'stockwire_purchases_total{outcome="insufficient_stock"} 0.0',
        'stockwire_refused_sockets_total{reason="origin_not_allowed"} 0.0',
        'stockwire_refused_sockets_total{reason="flood"} 0.0',
        'stockwire_channel_layer_errors_total{operation="group_send"} 0.0',
        'stockwire_messages_fanned_out_total{kind="stock"} 0.0',
    ):
        assert series in metrics, series


def test_the_access_log_has_a_line_per_request_and_never_a_query_string(demo_server):
    """`make run` logs each request (--access-log), with the path but not its ?token=."""
    with urllib.request.urlopen(f"{demo_server.url}/api/items?token=SECRET-123", timeout=10):
        pass
    deadline = time.monotonic() + 5
    while '"GET /api/items HTTP/1.1" 200' not in (log := demo_server.log.read_text()):
        assert time.monotonic() < deadline, log[-2000:]
        time.sleep(0.05)
    assert "SECRET-123" not in log
