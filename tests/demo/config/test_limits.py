"""Oversized bodies are refused with 413 JSON at the door, declared or chunked."""

import orjson
import pytest
from asgiref.testing import ApplicationCommunicator

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def post(body_chunks, headers):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/auth/token",
        "raw_path": b"/api/auth/token",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    app = ApplicationCommunicator(application, scope)
    for n, chunk in enumerate(body_chunks):
        await app.send_input(
            {"type": "http.request", "body": chunk, "more_body": n < len(body_chunks) - 1}
        )
    start = await app.receive_output(5)
    body = await app.receive_output(5)
    return start["status"], orjson.loads(body["body"])


async def test_a_declared_body_over_the_limit_is_413_json(settings):
    status, body = await post([b"{}"], [(b"content-length", str(10**9).encode())])
    assert (status, body["error"]) == (413, "request_too_large")


async def test_a_chunked_body_over_the_limit_is_413_json(settings):
    settings.MAX_REQUEST_BODY = 1000
    status, body = await post([b" " * 600, b" " * 600], [])
    assert (status, body["error"]) == (413, "request_too_large")


async def test_a_body_under_the_limit_reaches_the_api(settings):
    payload = orjson.dumps({"username": "nobody", "password": "wrong"})
    status, body = await post([payload], [(b"content-length", str(len(payload)).encode())])
    assert (status, body["error"]) == (401, "authentication_failed")
