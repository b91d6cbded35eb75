"""The one place the shop announces changes. Called by shop.services after commit.

Each frame is encoded here, once, and travels through the channel layer as text to one hub
per process (realtime/hub.py); no receiver encodes it again or queries the database.
"""

import logging
import time

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


def _deliver(*messages: dict) -> None:
    published_at = time.time()
    try:
        async_to_sync(_group_send_all)(messages, published_at)
    except Exception:
        # The change is committed; the hubs' resync brings it to subscribers within seconds.
        CHANNEL_LAYER_ERRORS.labels("group_send").inc()
        logger.exception("could not publish %s", [m["topic"] for m in messages])


async def _group_send_all(messages, published_at: float) -> None:
    layer = get_channel_layer()
    for message in messages:
        await layer.group_send(
            message["topic"], {"type": "hub.deliver", "published_at": published_at, **message}
        )
