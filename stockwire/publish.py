"""The one way stock changes, user messages (back in stock too) and sign-outs leave a process:
after commit, through the channel layer, to one hub per process (stockwire/hub.py).

Each frame is encoded once, here; no receiver encodes it again or queries the database.
"""

import asyncio
import logging
import threading
from collections.abc import Iterable, Sequence
from functools import partial

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, get_channel_layer
from django.db import transaction

from . import messages, protocol, topics
from .metrics import CHANNEL_LAYER_ERRORS

logger = logging.getLogger("stockwire.publish")


class Publisher:
    """Sends messages to groups of the channel layer without making its caller wait.

    In a server, sync code (a view, a service) runs on a thread of asgiref's while the
    server's event loop waits for it; the messages go to that loop and the thread goes on,
    so a buyer's answer does not wait for Redis. Outside a server (a command, the shell)
    there is no such loop, and sending waits.
    """

    def __init__(self, alias: str = DEFAULT_CHANNEL_LAYER):
        self.alias = alias
        # What threads handed to each loop that the loop has not taken yet.
        self._handed: dict[asyncio.AbstractEventLoop, list[tuple[str, dict]]] = {}
        self._lock = threading.Lock()

    def send(self, *sends: tuple[str, dict]) -> None:
        """Send each (group, message); failures are logged and counted, never raised."""
        loop = loop_of_this_thread()
        if loop is not None:
            self._hand_to(loop, sends)
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:  # async code of the server's own loop
            self._start(sends)
            return
        try:
            async_to_sync(self._send_all)(sends)
        except Exception as error:
            _failed(sends, error)

    def _hand_to(self, loop: asyncio.AbstractEventLoop, sends) -> None:
        """Give the sends to the loop. The first wakes it; whatever threads hand it before it
        takes them goes in the same trip to the layer: a purchase's stock change and its
        order confirmation, other requests' changes. Each hand-over was a future, a task and
        a trip to Redis of its own."""
        with self._lock:
            handed = self._handed.get(loop)
            if handed is not None:
                handed.extend(sends)
                return
            self._handed[loop] = list(sends)
        try:
            loop.call_soon_threadsafe(self._take, loop)
        except RuntimeError as error:  # the loop closed meanwhile
            with self._lock:
                lost = self._handed.pop(loop, [])
            _failed(lost, error, "(the server stopped first)")

    def _take(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            sends = self._handed.pop(loop)
        self._start(sends)

    def _start(self, sends: Sequence[tuple[str, dict]]) -> None:
        task = asyncio.ensure_future(self._send_all(sends))
        task.add_done_callback(partial(_check_sent, sends))

    async def _send_all(self, sends: Sequence[tuple[str, dict]]) -> None:
        layer = get_channel_layer(self.alias)
        # One trip to the layer for all groups where it can (stockwire/redis_layer.py).
        send_many = getattr(layer, "group_send_many", None)
        if send_many is not None:
            await send_many(sends)
            return
        for group, message in sends:
            await layer.group_send(group, message)


publisher = Publisher()


def publish_stock(
    item_id: int, quantity: int, version: int, *, held: int = 0, using: str | None = None
) -> None:
    """Tell every watcher of the item its new state, once the current transaction commits.

    For stock changed other than by Stockwire's own functions: `quantity` units on hand, of
    which `held` are held; `version` must grow with each change.
    """
    sends = (
        (topics.item_topic(item_id), messages.stock_changed(item_id, quantity, held, version)),
        (topics.LEGACY, messages.legacy_update_count(item_id)),
    )
    transaction.on_commit(partial(publisher.send, *sends), using=using, robust=True)


def notify_user(user_id: int, message: dict, *, using: str | None = None) -> None:
    """Send `message` (a JSON object with a "type") to every open socket of a user, once the
    current transaction commits."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError('A user message is a dict with a "type" string.')
    if message["type"] in protocol.RESERVED_TYPES:
        raise ValueError(f"{message['type']!r} is a type of Stockwire's own protocol.")
    send = (topics.user_topic(user_id), messages.user_message(user_id, message))
    transaction.on_commit(partial(publisher.send, send), using=using, robust=True)


def back_in_stock(
    item_id: int, available: int, waiting: int, user_ids: Iterable[int], *, using: str | None = None
) -> None:
    """Tell every socket of each of these users that the item is back, once the current
    transaction commits: one frame, encoded once, to each user's group."""
    frame = protocol.back_in_stock(item_id, available, waiting)
    sends = [(topics.user_topic(user), messages.user_frame(user, frame)) for user in user_ids]
    if sends:
        transaction.on_commit(partial(publisher.send, *sends), using=using, robust=True)


def sign_out(user_id: int, session: str | None = None, *, using: str | None = None) -> None:
    """Close a user's open sockets on every process with 4401, once the current transaction
    commits: those of one session (its stockwire.auth.session_digest), or all of them."""
    send = (topics.user_topic(user_id), messages.user_signed_out(user_id, session))
    transaction.on_commit(partial(publisher.send, send), using=using, robust=True)


def loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    """The event loop waiting for this thread's sync code, when a server runs it."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def _check_sent(sends, sending: asyncio.Future) -> None:
    if sending.cancelled():
        _failed(sends, None, "(the server stopped first)")
    elif (error := sending.exception()) is not None:
        _failed(sends, error)


def _failed(sends, error: BaseException | None, why: str = "") -> None:
    # The change is committed; the hubs' resync brings it to subscribers within seconds.
    CHANNEL_LAYER_ERRORS.labels("group_send").inc()
    logger.error("could not publish to %s %s", [group for group, _ in sends], why, exc_info=error)
