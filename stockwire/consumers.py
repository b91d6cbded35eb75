"""WebSocket consumers: validate a client message, act through the process's delivery, answer.

Sockets never read the channel layer themselves (`channel_layer_alias = None`): the process
hub does, once for all of them (stockwire/hub.py).
"""

import asyncio
import itertools
import logging
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from . import protocol, stock
from .auth import CREDENTIALS_EXPIRE_AT, SESSION
from .conf import stockwire_settings
from .errors import DATABASE_ERRORS
from .flood import MessageBudget
from .metrics import OPEN_SOCKETS, REFUSED_SOCKETS, SUBSCRIPTIONS
from .outbox import Outbox, frame_writer, text_event
from .protocol import Action, CloseCode, ErrorCode, ProtocolError
from .runtime import delivery
from .topics import LEGACY, item_topic, user_topic

logger = logging.getLogger("stockwire.consumers")

# Presence counts a visitor who is not logged in once per socket: "v1", "v2", ...
_visitor_ids = itertools.count(1)

# Why a socket closed, by the code its disconnect carries, for the one log line each gets.
CLOSE_REASONS = {
    1000: "closed by the client",
    1001: "client went away",
    # uvicorn's code when a socket stops answering pings or vanishes without a close frame.
    1005: "silent client (no answer to pings, no close frame)",
    1006: "connection lost",
    1009: "frame too big",
    1011: "server error",
    1012: "server restart",
}


class HubConsumer(AsyncWebsocketConsumer):
    """A socket whose messages arrive through the process hub and its own Outbox.

    The scope's `user` is set by StockwireAuthMiddlewareStack (stockwire/auth.py).
    """

    channel_layer_alias = None

    async def __call__(self, scope, receive, send) -> None:
        # As Channels' own without a channel layer, minus await_many_dispatch: that keeps a
        # task per socket and makes a new one for every frame, memory and time that thousands
        # of idle sockets pay for nothing.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        except OSError:
            # The client left while we were sending to it (an ASGI server raises an OSError
            # then), as it can during connect: undo what its disconnect would have.
            await self.disconnect(1006)

    async def connect(self) -> None:
        user = self.scope["user"]
        runtime = delivery()
        if user.is_authenticated and not await runtime.user_sockets.admit(user.pk):
            await self.refuse(CloseCode.TOO_MANY_SOCKETS, "too_many_sockets")
            return
        self.user = user
        self.delivery = runtime
        self.hub = runtime.hub
        self.outbox = Outbox(
            self.base_send, frame_writer(self.scope), session=self.scope.get(SESSION)
        )
        self.topics: set[str] = set()
        self.budget = MessageBudget(
            stockwire_settings.MESSAGES_PER_SECOND, stockwire_settings.MESSAGE_BURST
        )
        await self.open()

    async def open(self) -> None:
        """Join the socket's topics and greet it (each endpoint its own way)."""
        raise NotImplementedError

    async def refuse(self, code: CloseCode, reason: str) -> None:
        """Accept and close at once with `code`, so the client can tell why."""
        REFUSED_SOCKETS.labels(reason).inc()
        await self.accept()
        await self.close(code=int(code))

    async def admitted(self) -> bool:
        """Whether a client message may be handled; past the budget, the socket is closed
        with 4429 (a flood), and while closing nothing more is answered."""
        if self.outbox.closed:
            return False
        if self.budget.spend():
            return True
        self.close_reason = "flood"
        REFUSED_SOCKETS.labels("flood").inc()
        self.outbox.close()
        await self.close(code=int(CloseCode.TOO_MANY_MESSAGES))
        return False

    async def dispatch(self, message) -> None:
        # Channels hops to a thread to close stale database connections before every
        # handler, once per frame; our handlers reach the database only through
        # database_sync_to_async, which does that itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message) -> None:
        # As Channels' own, without its thread hop to close database connections: a restart
        # disconnects thousands of sockets at once.
        await self.disconnect(message["code"])
        raise StopConsumer()

    def reply(self, frame: str) -> None:
        """Answer through the Outbox, so replies keep the order of the requests."""
        self.outbox.push_event(text_event(frame))

    async def accept_with(self, greeting: str) -> None:
        """Accept the socket; `greeting` is its first message, before anything published to
        its topics while it was connecting (the Outbox holds that until now)."""
        await self.accept()
        self.counted = OPEN_SOCKETS.labels(self.scope["path"].rstrip("/") or "/")
        self.counted.inc()
        await self.send(text_data=greeting)
        self.outbox.open()
        expires_at = self.scope.get(CREDENTIALS_EXPIRE_AT)
        if expires_at is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, expires_at - time.time())
            self.expiry = loop.call_later(delay, lambda: loop.create_task(self._expired()))

    async def _expired(self) -> None:
        """The token the socket opened with has expired: so has the socket (4401)."""
        if self.outbox.closed:
            return
        self.close_reason = "credentials expired"
        REFUSED_SOCKETS.labels("credentials_expired").inc()
        self.outbox.close()
        await self.close(code=int(CloseCode.UNAUTHORIZED))

    async def disconnect(self, code: int) -> None:
        # Runs even when connect() failed halfway: only undo what was done.
        outbox = getattr(self, "outbox", None)
        if outbox is None:
            return
        if hasattr(self, "counted"):
            self.counted.dec()
        if hasattr(self, "expiry"):
            self.expiry.cancel()
        SUBSCRIPTIONS.dec(len(outbox.watched))
        outbox.close()
        if self.user.is_authenticated:
            await self.delivery.user_sockets.release(self.user.pk)
        for topic in list(self.topics):
            await self._leave(topic)
        client = self.scope.get("client") or ("-", "-")
        logger.info(
            "websocket closed: %s (code %s) client=%s:%s path=%s user=%s",
            getattr(self, "close_reason", None) or CLOSE_REASONS.get(code, "closed"),
            code,
            *client,
            self.scope["path"],
            self.user.pk,
        )

    async def _join(self, topic: str) -> None:
        self.topics.add(topic)
        await self.hub.join(topic, self.outbox)

    async def _leave(self, topic: str) -> None:
        self.topics.discard(topic)
        await self.hub.leave(topic, self.outbox)


class StockConsumer(HubConsumer):
    """/ws/stock/: live, versioned stock levels of the items a client subscribes to.

    A `view` is a subscribe that also counts the socket's user as a viewer of the items.
    """

    async def open(self) -> None:
        self.viewing: set[int] = set()
        if self.user.is_authenticated:
            self.viewer = str(self.user.pk)
            await self._join(user_topic(self.user.pk))
        else:  # a visitor (STOCKWIRE["ANONYMOUS"]): stock and presence, no user messages
            self.viewer = f"v{next(_visitor_ids)}"
        await self.accept_with(protocol.hello(self.user))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if not await self.admitted():
            return
        try:
            if text_data is None:
                raise ProtocolError(ErrorCode.BINARY_NOT_SUPPORTED, "Send JSON text frames.")
            command = protocol.parse_command(text_data)
            if command.action is Action.SUBSCRIBE:
                await self._subscribe(command.items)
            elif command.action is Action.VIEW:
                await self._subscribe(command.items, view=True)
            elif command.action is Action.UNSUBSCRIBE:
                await self._unsubscribe(command.items)
            else:
                self.reply(protocol.PONG)
        except ProtocolError as error:
            self.reply(protocol.error(error.code, error.detail, **error.extra))

    async def disconnect(self, code: int) -> None:
        for item in getattr(self, "viewing", ()):
            self.delivery.presence.unview(item, self.viewer)
        await super().disconnect(code)

    async def _subscribe(self, items: tuple[int, ...], *, view: bool = False) -> None:
        new = [item for item in items if item not in self.outbox.watched]
        if len(self.outbox.watched) + len(new) > stockwire_settings.MAX_SUBSCRIPTIONS:
            raise protocol.too_many_subscriptions()
        # Join before reading: a change committed after the read is pushed, one before it is
        # in the snapshot, and the Outbox keeps whichever version is newer.
        for item in new:
            self.outbox.watch(item)
            await self._join(item_topic(item))
        try:
            levels = await database_sync_to_async(stock.levels)(new)
        except DATABASE_ERRORS:
            # No snapshot, no promise: the client reconnects with backoff and subscribes again.
            self.close_reason = "database unavailable"
            self.outbox.close()
            await self.close(code=int(CloseCode.SERVICE_UNAVAILABLE))
            return
        unknown = [item for item in new if item not in levels]
        for item in unknown:
            self.outbox.unwatch(item)
            await self._leave(item_topic(item))
        SUBSCRIPTIONS.inc(len(levels))
        presence = self.delivery.presence
        for item, level in levels.items():
            self.outbox.push_state(item, level.version, text_event(protocol.stock(item, *level)))
            if not self.delivery.subscribers.send_presence(item, self.outbox):
                presence.learn(item)
        if view:
            for item in items:
                if item in self.outbox.watched and item not in self.viewing:
                    self.viewing.add(item)
                    presence.view(item, self.viewer)
        if unknown:
            raise ProtocolError(
                ErrorCode.UNKNOWN_ITEM,
                f"No such item: {', '.join(map(str, unknown))}.",
                items=unknown,
            )

    async def _unsubscribe(self, items: tuple[int, ...]) -> None:
        for item in items:
            if item in self.viewing:
                self.viewing.discard(item)
                self.delivery.presence.unview(item, self.viewer)
            if item in self.outbox.watched:
                SUBSCRIPTIONS.dec()
                self.outbox.unwatch(item)
                await self._leave(item_topic(item))


class LegacyCountConsumer(HubConsumer):
    """/notification/count: the protocol Stockwire grew from, kept for its clients.

    Every stock change of any item sends UPDATE_COUNT; the client then asks the HTTP API.
    It greets a user by id, so it needs one even where visitors may watch /ws/stock/.
    """

    async def connect(self) -> None:
        if not self.scope["user"].is_authenticated:
            await self.refuse(CloseCode.UNAUTHORIZED, "no_credentials")
            return
        await super().connect()

    async def open(self) -> None:
        await self._join(LEGACY)
        # Only so that a logout or a deactivation reaches it: it gets no user messages.
        await self._join(user_topic(self.user.pk))
        await self.accept_with(protocol.legacy_grouped(self.user.pk))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """The legacy protocol has no client messages: anything sent is ignored, within the
        same budget as /ws/stock/ (past it, 4429)."""
        await self.admitted()


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any other path: accepted and closed with 4404, so a client can tell what went wrong."""

    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=int(CloseCode.NOT_FOUND))
