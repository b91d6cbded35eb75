"""PostgreSQL unreachable: the API answers 503 JSON, open sockets stay up, service resumes.

The outage test runs a private PostgreSQL of its own (initdb in a temporary directory, a free
port), kills it with `pg_ctl stop -m immediate` while a server and a socket are up, and starts
it again; the shared PostgreSQL is never stopped. The first tests check the mapping of
database errors to 503 without any server, so they run in the SQLite pass as well.
"""

import asyncio
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import websockets
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import AsyncClient, Client
from django.urls import path

from shop import selectors, services
from tests.conftest import api_client
from tests.servers import demo_shop_env, free_port, running_server
from tests.services import REDIS_URL, channel_prefix, needs_services

UNAVAILABLE = {
    "error": "database_unavailable",
    "detail": "The shop's database is unreachable; please try again shortly.",
}

# The pool waits up to its timeout (10 s, config/settings.py) for a connection before giving
# up, so a request during the outage takes up to that long; it must fail, never hang.
OUTAGE_ANSWER_SECONDS = 25

# A new socket's token check waits on the pool in the one thread Channels' database calls
# share with the hub's resync, so it may wait for one resync's timeout before its own.
NEW_SOCKET_SECONDS = 2 * OUTAGE_ANSWER_SECONDS

# A new socket whose user cannot be looked up is accepted and closed at once with 4503, so the
# client reconnects with backoff (docs/protocol.md).
REFUSALS = {"close 4503"}


def recovery_bound(outage_seconds: float) -> float:
    """How soon after PostgreSQL is back purchases must succeed again, without a restart.

    psycopg's pool retries a lost server with exponential backoff counted from the loss (about
    1, 3, 7, 15, 31 s later, +-10%), so its first try after the return may come up to 1.2 times
    the outage's length later: the bound grows with the outage (17 s after a 10 s one).
    """
    return max(15.0, 1.2 * outage_seconds + 5)


# Database errors map to 503, without a server (both passes)


def broken(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")


def broken_view(request):
    broken()
    return HttpResponse("unreachable")


def failing_view(request):
    raise RuntimeError("a bug, not an outage")


# For the tests below marked with this module as their URLconf: plain Django views.
urlpatterns = [
    path("api/broken", broken_view),
    path("api/failing", failing_view),
    path("broken", broken_view),
]
handler500 = "config.views.server_error"


def assert_unavailable_json(response):
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"].isdigit()
    assert response.json() == UNAVAILABLE


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_an_api_read_that_cannot_reach_the_database_answers_503_json(monkeypatch, error):
    def unreachable():
        raise error("server closed the connection unexpectedly")

    monkeypatch.setattr(selectors, "catalog", unreachable)
    assert_unavailable_json(api_client().get("/api/items"))


@pytest.mark.django_db
def test_a_purchase_that_cannot_reach_the_database_answers_503_json(monkeypatch, shopper, item):
    monkeypatch.setattr(services, "purchase", broken)
    response = api_client(shopper).post(
        f"/api/items/{item.pk}/purchase", {"quantity": 1}, format="json"
    )
    assert_unavailable_json(response)


@pytest.mark.urls(__name__)
def test_a_database_error_outside_drf_is_503_json_under_api_and_a_page_elsewhere():
    client = Client(raise_request_exception=False)
    assert_unavailable_json(client.get("/api/broken"))
    page = client.get("/broken")
    assert page.status_code == 503 and page["Content-Type"].startswith("text/html")
    assert b"Service Unavailable" in page.content and page["Retry-After"].isdigit()
    # Other errors are still bugs: 500.
    assert client.get("/api/failing").json()["error"] == "server_error"


@pytest.mark.urls(__name__)
async def test_a_database_error_outside_drf_is_503_json_on_the_asgi_handler_too():
    """Django hands the error to handler500 in another thread there; it must still see it."""
    client = AsyncClient(raise_request_exception=False)
    assert_unavailable_json(await client.get("/api/broken"))
    assert (await client.get("/broken")).status_code == 503
    assert (await client.get("/api/failing")).status_code == 500


@pytest.mark.django_db
def test_a_page_that_cannot_reach_the_database_is_a_plain_503(monkeypatch, client, shopper):
    client.force_login(shopper)
    monkeypatch.setattr(selectors, "catalog", broken)
    client.raise_request_exception = False
    page = client.get("/")
    assert page.status_code == 503 and b"Service Unavailable" in page.content


# A private PostgreSQL, stopped and started by the test


def _postgres_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    assert found, "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql"
    return Path(found[-1]).parent


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:`port`, run as the `postgres` OS user."""

    root: Path
    port: int
    bin: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        # initdb and the server refuse to run as root; as anyone else, run as that user.
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*as_postgres, *args], capture_output=True, text=True, timeout=60, check=False
        )

    def _check(self, result: subprocess.CompletedProcess) -> None:
        log = self.root / "postgres.log"
        assert result.returncode == 0, (
            f"{result.args}: {result.stdout}{result.stderr}"
            f"{log.read_text() if log.exists() else ''}"
        )

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30", *args)

    def init(self) -> None:
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres"]
        self._check(self._run(*initdb, "--encoding=UTF8", "--no-sync", "--no-instructions"))

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off"
        )
        self._check(self._pg_ctl("-l", str(self.root / "postgres.log"), "-o", options, "start"))

    def stop(self, *, check: bool = True) -> None:
        """Stop at once: no checkpoint, clients cut off, as on a crash or a network cut."""
        result = self._pg_ctl("-m", "immediate", "stop")
        if check:
            self._check(result)


@pytest.fixture
def private_postgres():
    root = Path(tempfile.mkdtemp(prefix="stockwire-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    postgres = PrivatePostgres(root, free_port(), _postgres_bin())
    try:
        postgres.init()
        postgres.start()
        yield postgres
    finally:
        postgres.stop(check=False)  # fails harmlessly if it is already stopped
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def shop_on_private_postgres(private_postgres):
    with psycopg.connect(private_postgres.url("postgres"), autocommit=True) as admin:
        admin.execute("CREATE DATABASE stockwire")
    env = demo_shop_env(
        DATABASE_URL=private_postgres.url("stockwire"),
        REDIS_URL=REDIS_URL,
        CHANNEL_PREFIX=channel_prefix(),
    )
    with running_server(env) as server:
        yield server, private_postgres


# Real sockets and requests


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    text: str
    seconds: float

    def json(self):
        return json.loads(self.text)


def http(method: str, url: str, body=None, token: str | None = None) -> Answer:
    """One HTTP request; waits longer than the pool's timeout, never raises for 4xx/5xx."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=OUTAGE_ANSWER_SECONDS + 5) as response:
            status, headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, error.headers, error.read()
    headers = {name.lower(): value for name, value in headers.items()}
    return Answer(status, headers, text.decode(), time.monotonic() - started)


def assert_503_json(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.text)
    assert answer.headers["content-type"] == "application/json", answer.text
    assert answer.headers["retry-after"].isdigit()
    assert answer.json() == UNAVAILABLE
    assert answer.seconds < OUTAGE_ANSWER_SECONDS


async def next_of_type(socket, kind: str, wait: float = 5):
    while (message := json.loads(await asyncio.wait_for(socket.recv(), wait)))["type"] != kind:
        pass
    return message


async def ping(socket) -> None:
    await socket.send(json.dumps({"action": "ping"}))
    await next_of_type(socket, "pong")


async def new_socket_outcome(url: str) -> str:
    """Open a socket and say how it ended: `HTTP <status>`, `close <code>` or `hello`."""
    try:
        socket = await websockets.connect(url, open_timeout=NEW_SOCKET_SECONDS)
    except websockets.InvalidStatus as refused:
        return f"HTTP {refused.response.status_code}"
    try:
        message = json.loads(await asyncio.wait_for(socket.recv(), OUTAGE_ANSWER_SECONDS))
        return message["type"]
    except websockets.ConnectionClosed as closed:
        return f"close {closed.rcvd.code if closed.rcvd else 1006}"
    finally:
        await socket.close()


async def timed(coroutine):
    started = time.monotonic()
    result = await coroutine
    return result, time.monotonic() - started


@needs_services
async def test_the_shop_survives_a_database_outage_and_resumes_by_itself(
    shop_on_private_postgres,
):
    server, postgres = shop_on_private_postgres
    items, purchase = f"{server.url}/api/items", f"{server.url}/api/items/1/purchase"
    login = {"username": "alice", "password": "stockwire-demo"}
    tokens = await asyncio.to_thread(http, "POST", f"{server.url}/api/auth/token", login)
    assert tokens.status == 200, tokens.text
    token = tokens.json()["access"]
    stock_url = f"{server.ws_url}/ws/stock/?token={token}"

    def in_background(method, url, body=None):
        return asyncio.create_task(asyncio.to_thread(http, method, url, body, token))

    async with websockets.connect(stock_url) as socket:
        assert (await next_of_type(socket, "hello"))["user"]["username"] == "alice"
        await socket.send(json.dumps({"action": "subscribe", "items": [1]}))
        snapshot = await next_of_type(socket, "stock")

        # The outage: PostgreSQL dies at once, as on a crash or a network cut.
        await asyncio.to_thread(postgres.stop)
        stopped = time.monotonic()
        read, buy = in_background("GET", items), in_background("POST", purchase, {"quantity": 1})
        newcomer = asyncio.create_task(timed(new_socket_outcome(stock_url)))
        await ping(socket)  # the open socket answers while they wait on the database
        # The first requests may take the pool's connections that died with the server and fail
        # at once; this one comes after, when the pool has none left, and waits its timeout.
        read, buy = await read, await buy
        read_later = in_background("GET", items)
        await ping(socket)
        read_later = await read_later
        (newcomer, newcomer_seconds) = await newcomer
        for answer in read, buy, read_later:
            assert_503_json(answer)
        assert newcomer in REFUSALS, newcomer
        await ping(socket)
        log = server.log.read_text()
        assert "database unavailable: GET /api/items" in log
        assert "database unavailable: POST /api/items/1/purchase" in log

        # The recovery: the same server process, the same socket.
        await asyncio.to_thread(postgres.start)
        restarted = time.monotonic()
        deadline = restarted + recovery_bound(restarted - stopped)
        while True:
            bought = await asyncio.to_thread(http, "POST", purchase, {"quantity": 1}, token)
            if bought.status == 201 or time.monotonic() > deadline:
                break
            assert_503_json(bought)
            await asyncio.sleep(0.25)
        recovered_seconds = time.monotonic() - restarted
        assert bought.status == 201, (bought.status, bought.text, recovered_seconds)

        item = bought.json()["item"]
        assert item["version"] == snapshot["version"] + 1  # the outage sold nothing
        update = await next_of_type(socket, "stock")
        while update["version"] < item["version"]:
            update = await next_of_type(socket, "stock")
        assert update == {
            "type": "stock",
            "item": 1,
            "quantity": item["quantity"],
            "on_hand": item["on_hand"],
            "held": 0,
            "version": item["version"],
        }
        await ping(socket)

    async with websockets.connect(stock_url) as again:
        # Its token check may still queue behind a resync that began waiting on the pool
        # during the outage (see NEW_SOCKET_SECONDS).
        try:
            hello = await next_of_type(again, "hello", NEW_SOCKET_SECONDS)
        except TimeoutError:
            # Seen in a few full runs (2026-11-25): accepted, yet no hello. Keep the evidence.
            pytest.fail(f"no hello after recovery; server log:\n{server.log.read_text()[-4000:]}")
        assert hello["user"]["username"] == "alice"
    assert (await asyncio.to_thread(http, "GET", items)).status == 200

    print(
        f"\noutage {restarted - stopped:.1f} s; 503 for GET /api/items after {read.seconds:.2f} s "
        f"and later {read_later.seconds:.2f} s, for the purchase after {buy.seconds:.2f} s; "
        f"a new socket: {newcomer} after {newcomer_seconds:.2f} s; purchases succeed "
        f"{recovered_seconds:.2f} s after PostgreSQL is back"
    )
