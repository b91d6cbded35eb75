"""Refuse oversized request bodies before Django reads them.

Django's ASGI handler reads a whole body into a temporary file before any view runs, and
DRF's parsers do not apply DATA_UPLOAD_MAX_MEMORY_SIZE, so the limit is enforced here, on
the way in, for chunked bodies as well as declared ones.
"""

import orjson
from django.conf import settings


class RequestBodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.MAX_REQUEST_BODY
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return await _too_large(send, limit)
        messages, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            size += len(message.get("body", b""))
            if size > limit:
                return await _too_large(send, limit)
            messages.append(message)
            if not message.get("more_body"):
                break
        replay = iter(messages)

        async def replayed():
            return next(replay, None) or await receive()

        return await self.app(scope, replayed, send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send, limit: int) -> None:
    body = orjson.dumps(
        {"error": "request_too_large", "detail": f"Request bodies are limited to {limit} bytes."}
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
