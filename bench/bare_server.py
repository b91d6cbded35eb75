"""The limit to compare against: a bare `websockets` server broadcasting one pre-encoded frame.

No Django, no channel layer, no database: one item held in memory. A tiny keep-alive HTTP
endpoint with the shop API's paths triggers a change, so the harness drives it exactly as it
drives Stockwire, and the trigger costs about what a purchase request costs on the wire.
"""

import argparse
import asyncio
import json
import resource

import uvloop
import websockets
from websockets.asyncio.server import serve

ITEM = 1


class Shop:
    """One item; each change encodes its frame once and broadcasts it to every socket."""

    def __init__(self):
        self.quantity, self.version = 1_000, 1
        self.sockets: set = set()

    def frame(self) -> str:
        return json.dumps(
            {"type": "stock", "item": ITEM, "quantity": self.quantity, "version": self.version}
        )

    def item(self) -> dict:
        return {"id": ITEM, "quantity": self.quantity, "version": self.version}

    def change(self, delta: int) -> None:
        self.quantity += delta
        self.version += 1
        websockets.broadcast(self.sockets, self.frame())

    async def socket(self, connection) -> None:
        self.sockets.add(connection)
        try:
            async for message in connection:
                if '"subscribe"' in message:
                    await connection.send(self.frame())
        finally:
            self.sockets.discard(connection)


class Trigger(asyncio.Protocol):
    """Keep-alive HTTP/1.1: GET /api/items/1, POST .../purchase and .../restock, auth/token."""

    def __init__(self, shop: Shop):
        self.shop = shop
        self.buffer = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = next(
                (int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:")),
                0,
            )
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path, _ = head[0].split(" ", 2)
            self.respond(*self.route(method, path, body))

    def route(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        shop = self.shop
        if path == "/api/auth/token":
            return 200, {"access": "bare", "refresh": "bare"}
        if path == f"/api/items/{ITEM}" and method == "GET":
            return 200, shop.item()
        if path == f"/api/items/{ITEM}/purchase" and method == "POST":
            shop.change(-json.loads(body)["quantity"])
            return 201, {"order": {}, "item": shop.item()}
        if path == f"/api/items/{ITEM}/restock" and method == "POST":
            shop.change(json.loads(body)["quantity"])
            return 200, shop.item()
        return 404, {"error": "unknown_endpoint"}

    def respond(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.transport.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )


async def main(ws_port: int, http_port: int) -> None:
    shop = Shop()
    loop = asyncio.get_running_loop()
    http = await loop.create_server(lambda: Trigger(shop), "127.0.0.1", http_port)
    async with serve(shop.socket, "127.0.0.1", ws_port, compression=None, backlog=2048):
        async with http:
            await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        uvloop.run(main(args.ws_port, args.http_port))
    except KeyboardInterrupt:
        pass
