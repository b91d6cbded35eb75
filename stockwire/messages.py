"""The messages processes send each other through the channel layer, one builder each.

Each message's `type` selects its handler in the receiving process (stockwire/hub.py), as
Channels does for consumers; frames are encoded once, here, for every socket they go to.
"""

import time

from . import protocol

STOCK_CHANGED = "stock.changed"
LEGACY_UPDATE_COUNT = "legacy.update_count"
USER_MESSAGE = "user.message"
PRESENCE_COUNT = "presence.count"
USER_SIGNED_OUT = "user.signed_out"


def stock_changed(item_id: int, on_hand: int, held: int, version: int) -> dict:
    """An item's new state, for the item's subscribers; newer versions replace older ones."""
    return {
        "type": STOCK_CHANGED,
        "item": item_id,
        "version": version,
        "frame": protocol.stock(item_id, on_hand, held, version),
        "published_at": time.time(),
    }


def legacy_update_count(item_id: int) -> dict:
    """UPDATE_COUNT for the legacy /notification/count sockets: an item changed, ask again."""
    return {"type": LEGACY_UPDATE_COUNT, "frame": protocol.legacy_update_count(item_id)}


def user_message(user_id: int, message: dict) -> dict:
    """A message of the shop's own (an order confirmation) for every socket of one user."""
    return {"type": USER_MESSAGE, "user": user_id, "frame": protocol.encode(message)}


def user_frame(user_id: int, frame: str) -> dict:
    """A user message already encoded, for a frame that goes to many users alike (back in
    stock); handled as user_message."""
    return {"type": USER_MESSAGE, "user": user_id, "frame": frame}


def presence_count(item_id: int, viewers: int, seq: int) -> dict:
    """How many people view an item; `seq` orders the counts of one item across processes."""
    return {
        "type": PRESENCE_COUNT,
        "item": item_id,
        "seq": seq,
        "frame": protocol.presence(item_id, viewers, seq),
    }


def user_signed_out(user_id: int, session: str | None = None) -> dict:
    """A user's sockets must end: those of one session (a logout; `session` is its digest,
    stockwire.auth.session_digest), or every one of them (None: the user was deactivated)."""
    return {"type": USER_SIGNED_OUT, "user": user_id, "session": session}
