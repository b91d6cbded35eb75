"""Names of the channel-layer groups the hubs join.

Group names allow only [A-Za-z0-9-_.] and fewer than 100 characters: `stockwire.item.42`.
"""

ITEM_PREFIX = "stockwire.item."
LEGACY = "stockwire.legacy"


def item_topic(item_id: int) -> str:
    return f"{ITEM_PREFIX}{item_id}"


def user_topic(user_id: int) -> str:
    return f"stockwire.user.{user_id}"


def item_of(topic: str) -> int | None:
    """The item id of an item topic; None for other topics."""
    return int(topic[len(ITEM_PREFIX) :]) if topic.startswith(ITEM_PREFIX) else None
