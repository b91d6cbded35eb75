"""The one place the shop announces changes. Called by shop.services after commit.

Each frame is encoded here, once, and travels through the channel layer as text to one hub
per process (realtime/hub.py); no receiver encodes it again or queries the database.
"""

import asyncio
import logging
import time
from concurrent.futures import Future
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import protocol, topics
from .metrics import CHANNEL_LAYER_ERRORS

logger = logging.getLogger("stockwire.realtime")


def stock_changed(*, item_id: int, quantity: int, version: int, order=None) -> None:
    """Announce an item's new state and, when the change sold it, the order to its buyer.

    One call, one hop to the event loop: a purchase publishes everything it changed at once.
    """
    messages = [
        stock_message(item_id, quantity, version),
        {"topic": topics.LEGACY, "frame": protocol.legacy_update_count(item_id)},
    ]
    if order is not None:
        messages.append({"topic": topics.user_topic(order.user_id), "frame": protocol.order(order)})
    _deliver(*messages)


def stock_message(item_id: int, quantity: int, version: int) -> dict:
    """What the hubs fan out for one item's state: the frame, encoded once, and its version."""
    return {
        "topic": topics.item_topic(item_id),
        "frame": protocol.stock(item_id, quantity, version),
        "item": item_id,
        "version": version,
    }


_server_loop: asyncio.AbstractEventLoop | None = None


def send_through(loop: asyncio.AbstractEventLoop) -> None:
    """Publish through this event loop, the server's, while it runs (the hub calls this)."""
    global _server_loop
    _server_loop = loop


def _deliver(*messages: dict) -> None:
    published_at = time.time()
    loop = _server_loop
    if loop is not None and loop.is_running():
        # In a server, the request's thread hands the messages to the event loop and goes on:
        # the buyer's answer does not wait for the channel layer (on Redis, a third of a
        # purchase's time, measured).
        sending = asyncio.run_coroutine_threadsafe(_group_send_all(messages, published_at), loop)
        sending.add_done_callback(partial(_check_sent, messages))
        return
    try:
        async_to_sync(_group_send_all)(messages, published_at)
    except Exception as error:
        _failed(messages, error)


def _check_sent(messages, sending: Future) -> None:
    if sending.cancelled():
        _failed(messages, None, "(the server stopped first)")
    elif (error := sending.exception()) is not None:
        _failed(messages, error)


def _failed(messages, error: BaseException | None, why: str = "") -> None:
    # The change is committed; the hubs' resync brings it to subscribers within seconds.
    CHANNEL_LAYER_ERRORS.labels("group_send").inc()
    logger.error("could not publish %s %s", [m["topic"] for m in messages], why, exc_info=error)


async def _group_send_all(messages, published_at: float) -> None:
    layer = get_channel_layer()
    for message in messages:
        await layer.group_send(
            message["topic"], {"type": "hub.deliver", "published_at": published_at, **message}
        )
