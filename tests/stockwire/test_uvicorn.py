"""The frame writer (stockwire/uvicorn.py) writes frames straight to a real socket, and only
when uvicorn's own path would send them too."""

import asyncio
import contextlib
import socket

import uvicorn
from websockets.asyncio.client import connect

from stockwire.outbox import WRITE_FRAME_EXTENSION, text_event
from stockwire.uvicorn import ENCODED_FRAME

BIG = "x" * 256 * 1024


@contextlib.asynccontextmanager
async def serving(app):
    """uvicorn with Stockwire's protocol on a socket that listens before the server starts."""
    listening = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        ws="stockwire.uvicorn:WebSocketProtocol",
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
        before_accept = write(text_event("too early"))
        await send({"type": "websocket.accept"})
        written = write(text_event("hello"))
        await send({"type": "websocket.send", "text": f"{before_accept} {written}"})
        await send({"type": "websocket.close", "code": 1000})
        after_close = write(text_event("too late"))
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
            if not write(text_event(BIG)):
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


async def test_an_event_is_framed_once_for_every_socket_it_goes_to():
    event = text_event("v2")
    writers = []
    both_open = asyncio.Event()

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        writers.append(scope["extensions"][WRITE_FRAME_EXTENSION]["write"])
        if len(writers) == 2:
            both_open.set()
        await receive()

    async with serving(app) as url:
        async with connect(url) as first, connect(url) as second:
            await asyncio.wait_for(both_open.wait(), 5)
            assert all(write(event) for write in writers)
            assert event[ENCODED_FRAME] == b"\x81\x02v2"  # framed once, kept for the next
            assert [await first.recv(), await second.recv()] == ["v2", "v2"]
