"""A user's sockets over several server processes sharing PostgreSQL and Redis: the socket
limit is one limit for the site, a dead process's sockets stop counting, and a logout on one
process closes the session's sockets on the others.

Presence's short TTL here also bounds how long a killed process's sockets count.
"""

import asyncio
import http.cookiejar
import json
import time
import urllib.parse
import urllib.request

import pytest
import websockets

from tests.servers import DEMO_PASSWORD, running_server, token_for
from tests.services import needs_services

pytestmark = needs_services

LIMIT = 2
TTL, REFRESH = 3, 1
# stockwire/user_sockets.py: a killed process's sockets stop counting within TTL + refresh.
BOUND = TTL + REFRESH


@pytest.fixture
def servers(demo_shop):
    env = {
        **demo_shop.env,
        "MAX_SOCKETS_PER_USER": str(LIMIT),
        "PRESENCE_TTL_SECONDS": str(TTL),
        "PRESENCE_REFRESH_SECONDS": str(REFRESH),
    }
    with running_server(env) as first, running_server(env) as second:
        yield first, second


async def open_socket(server, token: str):
    """A token socket on `server`: (the socket, its first message, or its close code)."""
    socket = await websockets.connect(f"{server.ws_url}/ws/stock/?token={token}")
    try:
        return socket, json.loads(await asyncio.wait_for(socket.recv(), 5))["type"]
    except websockets.ConnectionClosed as closed:
        return socket, closed.rcvd.code


async def test_the_socket_limit_is_one_limit_over_both_processes(servers):
    first, second = servers
    token = await asyncio.to_thread(token_for, first.url, "alice")
    held = [await open_socket(first, token), await open_socket(second, token)]
    try:
        assert [kind for _, kind in held] == ["hello", "hello"]
        for server in servers:
            socket, code = await open_socket(server, token)
            await socket.close()
            assert code == 4409
        # Another user is not affected.
        socket, kind = await open_socket(
            second, await asyncio.to_thread(token_for, first.url, "bob")
        )
        await socket.close()
        assert kind == "hello"
    finally:
        for socket, _ in held:
            await socket.close()


async def test_a_killed_processs_sockets_stop_counting_within_the_bound(servers):
    doomed, survivor = servers
    token = await asyncio.to_thread(token_for, survivor.url, "alice")
    held = [await open_socket(doomed, token) for _ in range(LIMIT)]
    assert [kind for _, kind in held] == ["hello"] * LIMIT
    refused, code = await open_socket(survivor, token)
    await refused.close()
    assert code == 4409

    doomed.kill()
    deadline = time.monotonic() + BOUND + 10  # generous for a shared machine
    while True:
        socket, kind = await open_socket(survivor, token)
        await socket.close()
        if kind == "hello":
            break
        assert kind == 4409 and time.monotonic() < deadline, kind
        await asyncio.sleep(0.2)


class Browser:
    """Cookies and forms, as a browser sends them to the demo's pages."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def get(self, url: str) -> None:
        self.opener.open(url, timeout=10).read()

    def post(self, url: str, form: dict) -> None:
        form = {**form, "csrfmiddlewaretoken": self.cookie("csrftoken")}
        request = urllib.request.Request(url, urllib.parse.urlencode(form).encode())
        self.opener.open(request, timeout=10).read()

    def log_in(self, server, username: str) -> None:
        self.get(f"{server.url}/login/")
        self.post(f"{server.url}/login/", {"username": username, "password": DEMO_PASSWORD})
        assert self.cookie("sessionid"), "not logged in"


async def test_logging_out_on_one_process_closes_the_sessions_socket_on_the_other(servers):
    first, second = servers
    browser = Browser()
    await asyncio.to_thread(browser.log_in, first, "alice")
    socket = await websockets.connect(
        f"{second.ws_url}/ws/stock/",
        origin=second.url,
        additional_headers={"Cookie": f"sessionid={browser.cookie('sessionid')}"},
    )
    try:
        hello = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert hello["user"]["username"] == "alice"

        await asyncio.to_thread(browser.post, f"{first.url}/logout/", {})

        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd.code == 4401
    finally:
        await socket.close()
