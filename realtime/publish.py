"""The one place the shop announces changes. Called by shop.services after commit.

Each frame is encoded here, once, and travels through the channel layer as text to one hub
per process (realtime/hub.py); no receiver encodes it again or queries the database.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import protocol

logger = logging.getLogger("stockwire.realtime")

# Channel-layer group names allow only [A-Za-z0-9-_.] and fewer than 100 characters.
LEGACY_TOPIC = "stockwire.legacy"


def item_topic(item_id: int) -> str:
    return f"stockwire.item.{item_id}"


def user_topic(user_id: int) -> str:
    return f"stockwire.user.{user_id}"


def stock_changed(*, item_id: int, quantity: int, version: int) -> None:
    _deliver(
        {
            "topic": item_topic(item_id),
            "frame": protocol.stock(item_id, quantity, version),
            "item": item_id,
            "version": version,
        },
        {"topic": LEGACY_TOPIC, "frame": protocol.legacy_update_count(item_id)},
    )


def order_placed(*, user_id: int, order) -> None:
    _deliver({"topic": user_topic(user_id), "frame": protocol.order(order)})


def _deliver(*messages: dict) -> None:
    try:
        async_to_sync(_group_send_all)(messages)
    except Exception:
        # The change is committed; subscribers heal with the snapshot they get on resubscribe.
        logger.exception("could not publish %s", [m["topic"] for m in messages])


async def _group_send_all(messages) -> None:
    layer = get_channel_layer()
    for message in messages:
        await layer.group_send(message["topic"], {"type": "hub.deliver", **message})
