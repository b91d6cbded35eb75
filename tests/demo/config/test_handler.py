"""config/handler.py: a request's sync work in one trip to its thread, answering exactly as
Django's own ASGI handler does."""

import asyncio
import json

import pytest
from asgiref import sync
from django.core import signals
from django.core.handlers.asgi import ASGIHandler

from config.asgi import application
from config.handler import OneTripASGIHandler
from tests.conftest import access_token

pytestmark = pytest.mark.django_db(transaction=True)


async def call(
    app, method: str, path: str, *, body=b"", headers=(), host=b"testserver", events=None
):
    """One request through an ASGI app; its status, headers and body. `events` gets what
    happened in order: the response's start and body messages."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    answer = {"body": b""}

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Future()  # the client stays: no http.disconnect

    async def send(message):
        if events is not None:
            events.append(message["type"])
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], dict(message["headers"])
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer


def json_request(user, body: dict) -> dict:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"authorization", f"Bearer {access_token(user)}".encode()),
    ]
    return {"body": data, "headers": headers}


@pytest.fixture
def trips(monkeypatch):
    """The trips made between the event loop and a thread: (direction, what ran)."""
    made: list[tuple[str, str]] = []
    to_thread, to_loop = sync.SyncToAsync.__call__, sync.AsyncToSync.__call__

    def counted_to_thread(self, *args, **kwargs):
        made.append(("to a thread", self.func.__qualname__))
        return to_thread(self, *args, **kwargs)

    def counted_to_loop(self, *args, **kwargs):
        made.append(("to the loop", getattr(self.awaitable, "__qualname__", "?")))
        return to_loop(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted_to_thread)
    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted_to_loop)
    return made


async def test_a_purchase_goes_to_its_thread_once_and_never_back(shopper, item, trips):
    answer = await call(
        application,
        "POST",
        f"/api/items/{item.pk}/purchase",
        **json_request(shopper, {"quantity": 1}),
    )

    assert answer["status"] == 201
    assert trips == [("to a thread", "OneTripASGIHandler._respond")]


@pytest.fixture
def static_files(settings):
    """WhiteNoise serves the apps' static/ folders (with DEBUG off it serves STATIC_ROOT,
    which tests do not collect); it reads the setting when a handler is made."""
    settings.WHITENOISE_USE_FINDERS = True


@pytest.fixture
def finished():
    """A list that gets "request_finished" when Django sends that signal."""
    seen: list[str] = []

    def receiver(**kwargs):
        seen.append("request_finished")

    signals.request_finished.connect(receiver)
    yield seen
    signals.request_finished.disconnect(receiver)


async def test_a_whole_response_finishes_the_request_before_it_is_sent(item, finished):
    answer = await call(OneTripASGIHandler(), "GET", "/api/items", events=finished)

    assert answer["status"] == 200
    assert finished == ["request_finished", "http.response.start", "http.response.body"]


async def test_a_streamed_file_finishes_the_request_after_it_is_sent(static_files, finished):
    answer = await call(OneTripASGIHandler(), "GET", "/static/shop/shop.css", events=finished)

    assert answer["status"] == 200 and answer["body"].startswith(b"/*")
    assert finished[0] == "http.response.start" and finished[-1] == "request_finished"


@pytest.mark.parametrize("handler", [OneTripASGIHandler, ASGIHandler])
async def test_both_handlers_answer_every_kind_of_request_alike(
    handler, static_files, shopper, item
):
    """The fallback (REQUESTS_IN_ONE_TRIP=false) and the one trip, side by side."""
    app = handler()
    sold = await call(
        app, "POST", f"/api/items/{item.pk}/purchase", **json_request(shopper, {"quantity": 10})
    )
    refused = await call(
        app, "POST", f"/api/items/{item.pk}/purchase", **json_request(shopper, {"quantity": 1})
    )
    missing = await call(app, "GET", "/api/nowhere")
    stranger = await call(app, "GET", "/api/items", host=b"evil.example")
    static = await call(app, "GET", "/static/shop/shop.js")
    ready = await call(app, "GET", "/readyz")

    assert sold["status"] == 201 and json.loads(sold["body"])["item"]["quantity"] == 0
    assert refused["status"] == 409
    assert json.loads(refused["body"])["error"] == "insufficient_stock"
    assert missing["status"] == 404 and json.loads(missing["body"])["error"] == "not_found"
    assert stranger["status"] == 400
    assert static["status"] == 200 and b"data-stock-item" in static["body"]
    assert ready["status"] == 200 and json.loads(ready["body"])["status"] == "ready"
