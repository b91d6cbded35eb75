"""The flash sale's anchor: the shop's purchase with no Django, on the same server stack.

A bare ASGI app on uvicorn (uvloop, httptools, as config/server.py runs Stockwire) with
psycopg's async pool, as many connections per process as the shop's pool. Each purchase does
in ONE transaction the database work of shop.services.purchase: the conditional UPDATE that
never goes below zero, an order row and a stock-movement row; it answers 201 or 409
insufficient_stock. The Bearer token is checked (HS256, the shop's SECRET_KEY) as the shop
does; there is no user lookup, session, throttle, serializer or WebSocket publish. What
Stockwire takes beyond this is what Django, DRF and publishing cost under the same burst.

    DATABASE_URL=postgres://... SECRET_KEY=... .venv/bin/python -m uvicorn \\
        bench.flash_anchor:app --workers 2 --loop uvloop --http httptools --no-access-log
"""

import os
import re

import jwt
import orjson
from psycopg_pool import AsyncConnectionPool

POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", 20))  # the shop's default (settings.py)
MAX_QUANTITY = 1_000_000  # shop.services.MAX_QUANTITY
ITEM_PATH = re.compile(r"/api/items/(\d+)")
PURCHASE_PATH = re.compile(r"/api/items/(\d+)/purchase")

TAKE = (
    "UPDATE shop_item SET quantity = quantity - %s, version = version + 1 "
    "WHERE id = %s AND quantity - held >= %s RETURNING quantity, held, version, price"
)
LEVEL = "SELECT quantity - held, version FROM shop_item WHERE id = %s"
ORDER = (
    "INSERT INTO shop_order (user_id, item_id, quantity, unit_price, created_at) "
    "VALUES (%s, %s, %s, %s, now()) RETURNING id, created_at"
)
MOVEMENT = (
    "INSERT INTO shop_stockmovement "
    "(item_id, delta, reason, quantity_after, held_after, version, actor_id, order_id,"
    " created_at) VALUES (%s, %s, 'purchase', %s, %s, %s, %s, %s, now())"
)


class Anchor:
    """The ASGI app: GET /api/items/<id> (the readiness probe), POST .../purchase."""

    def __init__(self):
        self.pool: AsyncConnectionPool | None = None
        self.secret = os.environ.get("SECRET_KEY", "")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            body = await _body(receive)
            status, payload = await self.route(scope, body)
            await _respond(send, status, payload)

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = AsyncConnectionPool(
                    os.environ["DATABASE_URL"], min_size=2, max_size=POOL_SIZE,
                    kwargs={"autocommit": True}, open=False,
                )  # fmt: skip
                await self.pool.open(wait=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def route(self, scope, body: bytes) -> tuple[int, dict]:
        method, path = scope["method"], scope["path"]
        if method == "POST" and (match := PURCHASE_PATH.fullmatch(path)):
            user_id = self.user_id(scope)
            if user_id is None:
                return 401, {"error": "not_authenticated"}
            quantity = _quantity(body)
            if quantity is None:
                return 400, {"error": "invalid_quantity"}
            return await self.purchase(user_id, int(match[1]), quantity)
        if method == "GET" and (match := ITEM_PATH.fullmatch(path)):
            async with self.pool.connection() as connection:
                row = await (await connection.execute(LEVEL, (int(match[1]),))).fetchone()
            if row is None:
                return 404, {"error": "item_not_found"}
            return 200, {"id": int(match[1]), "quantity": row[0], "version": row[1]}
        return 404, {"error": "unknown_endpoint"}

    def user_id(self, scope) -> int | None:
        """The shopper of a valid access token (simplejwt's: HS256, user_id, token_type)."""
        header = dict(scope["headers"]).get(b"authorization", b"")
        if not header.startswith(b"Bearer "):
            return None
        try:
            claims = jwt.decode(header[7:], self.secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return None
        return int(claims["user_id"]) if claims.get("token_type") == "access" else None

    async def purchase(self, user_id: int, item_id: int, quantity: int) -> tuple[int, dict]:
        async with self.pool.connection() as connection, connection.transaction():
            taken = await (await connection.execute(TAKE, (quantity, item_id, quantity))).fetchone()
            if taken is None:
                level = await (await connection.execute(LEVEL, (item_id,))).fetchone()
                if level is None:
                    return 404, {"error": "item_not_found"}
                return 409, {"error": "insufficient_stock", "available": level[0]}
            left, held, version, price = taken
            order = (user_id, item_id, quantity, price)
            order_id, created = await (await connection.execute(ORDER, order)).fetchone()
            await connection.execute(
                MOVEMENT, (item_id, -quantity, left, held, version, user_id, order_id)
            )
        return 201, {
            "order": {"id": order_id, "item": item_id, "quantity": quantity,
                      "unit_price": str(price), "created_at": created.isoformat()},
            "item": {"id": item_id, "quantity": left - held, "on_hand": left, "held": held,
                     "version": version},
        }  # fmt: skip


def _quantity(body: bytes) -> int | None:
    try:
        quantity = orjson.loads(body).get("quantity")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        return None
    return quantity


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send, status: int, payload: dict) -> None:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = Anchor()
