"""Stockwire's WebSocket protocol writes encoded frames straight to a real socket, and only
when uvicorn's own path would send them too."""

import asyncio
import contextlib
import socket

import uvicorn
from websockets.asyncio.client import connect

from realtime.outbox import ENCODED_FRAME, WRITE_FRAME_EXTENSION, text_event

BIG = "x" * 256 * 1024


def encoded(text: str) -> bytes:
    return text_event(text)[ENCODED_FRAME]


@contextlib.asynccontextmanager
async def serving(app):
    """uvicorn with Stockwire's protocol on a socket that listens before the server starts."""
    listening = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        ws="config.websocket:StockwireWebSocketProtocol",
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield f"ws://127.0.0.1:{listening.getsockname()[1]}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        listening.close()


async def test_the_writer_sends_an_encoded_frame_only_once_the_socket_is_open():
    async def app(scope, receive, send):
        write = scope["extensions"][WRITE_FRAME_EXTENSION]["write"]
        await receive()  # websocket.connect
        before_accept = write(encoded("too early"))
        await send({"type": "websocket.accept"})
        written = write(encoded("hello"))
        await send({"type": "websocket.send", "text": f"{before_accept} {written}"})
        await send({"type": "websocket.close", "code": 1000})
        after_close = write(encoded("too late"))
        assert after_close is False

    async with serving(app) as url, connect(url) as client:
        assert await client.recv() == "hello"
        assert await client.recv() == "False True"
        await client.wait_closed()
        assert client.close_code == 1000


async def test_a_socket_whose_client_stops_reading_makes_the_writer_refuse():
    refused = asyncio.Event()
    results: list[str] = []

    async def app(scope, receive, send):
        write = scope["extensions"][WRITE_FRAME_EXTENSION]["write"]
        await receive()
        await send({"type": "websocket.accept"})
        # A bounded amount: the kernel's and uvicorn's buffers fill long before 50 MiB.
        for _ in range(200):
            if not write(encoded(BIG)):
                refused.set()
                break
        # The ASGI send waits for the client to read, then goes out after the big frames.
        await send({"type": "websocket.send", "text": "after the backlog"})
        results.append("sent")
        await receive()

    async with serving(app) as url, connect(url, max_size=None, max_queue=1) as client:
        await asyncio.wait_for(refused.wait(), 10)
        while (message := await asyncio.wait_for(client.recv(), 10)) == BIG:
            pass
        assert message == "after the backlog"
        assert results == ["sent"]
