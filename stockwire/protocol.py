"""The WebSocket protocol, defined once: every message type, action, error and close code.

docs/protocol.md mirrors this module; stockwire/static/stockwire/stockwire.js speaks it.
Frames are JSON text, encoded here so a change is serialized once for all its receivers.
"""

import json
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from .conf import stockwire_settings

# The largest id a database primary key (64-bit signed) can hold.
MAX_ITEM_ID = 2**63 - 1


class Action(StrEnum):
    """What a client may ask on /ws/stock/."""

    SUBSCRIBE = "subscribe"
    # Subscribe, and count the socket's user as a viewer of the items (stockwire/presence.py).
    VIEW = "view"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"


class MessageType(StrEnum):
    """The `type` of every message the server sends on /ws/stock/."""

    HELLO = "hello"
    STOCK = "stock"
    PRESENCE = "presence"
    PONG = "pong"
    ERROR = "error"
    # A sold-out item the user waits for is available again (stockwire.alert).
    BACK_IN_STOCK = "back_in_stock"
    # Messages of the shop's own to one user (notify_user) carry the shop's types, e.g. "order".


# A shop's own user messages (notify_user) may not pass for one of these.
RESERVED_TYPES = frozenset(MessageType)


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_ITEMS = "invalid_items"
    UNKNOWN_ITEM = "unknown_item"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    BINARY_NOT_SUPPORTED = "binary_not_supported"


class CloseCode(IntEnum):
    """Close codes in the 4000-4999 range that applications own, modelled on HTTP statuses.

    Sent as int(code): some servers (daphne) accept nothing but a plain int.
    """

    # No credentials, or they ended: a token expired, a session logged out, a user deactivated.
    UNAUTHORIZED = 4401
    FORBIDDEN_ORIGIN = 4403
    NOT_FOUND = 4404
    # The user already holds MAX_SOCKETS_PER_USER sockets (over every process with Redis).
    TOO_MANY_SOCKETS = 4409
    TOO_MANY_MESSAGES = 4429
    SERVICE_UNAVAILABLE = 4503


class ProtocolError(Exception):
    """Raised for a client message the server cannot act on; answered with an error message."""

    def __init__(self, code: ErrorCode, detail: str, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    items: tuple[int, ...] = field(default=())


def parse_command(text: str) -> Command:
    """Validate one client frame; raise ProtocolError saying what is wrong with it."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
        raise ProtocolError(ErrorCode.INVALID_JSON, "The message is not valid JSON.") from None
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "A message must be a JSON object.")
    action = message.get("action")
    try:
        action = Action(action)
    except (ValueError, TypeError):
        known = ", ".join(a.value for a in Action)
        raise ProtocolError(
            ErrorCode.UNKNOWN_ACTION, f"Unknown action {action!r}; expected one of: {known}."
        ) from None
    if action is Action.PING:
        return Command(action)
    return Command(action, _parse_items(message.get("items")))


def _parse_items(items) -> tuple[int, ...]:
    if not isinstance(items, list) or not items:
        raise ProtocolError(
            ErrorCode.INVALID_ITEMS, "`items` must be a non-empty list of item ids."
        )
    if len(items) > stockwire_settings.MAX_SUBSCRIPTIONS:
        raise too_many_subscriptions()
    for item in items:
        # bool is an int in Python; `true` is not an item id.
        if type(item) is not int or not 1 <= item <= MAX_ITEM_ID:
            raise ProtocolError(
                ErrorCode.INVALID_ITEMS,
                f"Item ids are positive integers up to {MAX_ITEM_ID}; got {_shorten(item)}.",
            )
    return tuple(dict.fromkeys(items))


def too_many_subscriptions() -> ProtocolError:
    limit = stockwire_settings.MAX_SUBSCRIPTIONS
    return ProtocolError(
        ErrorCode.TOO_MANY_SUBSCRIPTIONS,
        f"A socket can watch at most {limit} items.",
        limit=limit,
    )


def _shorten(value) -> str:
    text = encode(value) if not isinstance(value, int) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def encode(message) -> str:
    """Compact JSON text; non-JSON values (a Decimal, a date) are written as strings."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)


def hello(user) -> str:
    """The greeting: the reconnect backoff the server wants clients to use after a drop, and
    how many items a socket may watch.

    `user` is null for a visitor who is not logged in (STOCKWIRE["ANONYMOUS"]).
    """
    return encode(
        {
            "type": MessageType.HELLO,
            "user": (
                {"id": user.pk, "username": user.get_username()} if user.is_authenticated else None
            ),
            "reconnect": {
                "base_ms": stockwire_settings.RECONNECT_BASE_MS,
                "cap_ms": stockwire_settings.RECONNECT_CAP_MS,
            },
            "max_subscriptions": stockwire_settings.MAX_SUBSCRIPTIONS,
        }
    )


def stock(item_id: int, on_hand: int, held: int, version: int) -> str:
    """An item's stock: `quantity` is what a buyer can take now (on hand, not held)."""
    return encode(
        {
            "type": MessageType.STOCK,
            "item": item_id,
            "quantity": on_hand - held,
            "on_hand": on_hand,
            "held": held,
            "version": version,
        }
    )


def presence(item_id: int, viewers: int, seq: int) -> str:
    """How many people view an item; `seq` orders the counts of one item across processes."""
    return encode({"type": MessageType.PRESENCE, "item": item_id, "viewers": viewers, "seq": seq})


def back_in_stock(item_id: int, available: int, waiting: int) -> str:
    """For each user whose alert fired: `available` units came back, and `waiting` alerts of
    the item fired with this one (more than `available`: not everyone will get one)."""
    return encode(
        {
            "type": MessageType.BACK_IN_STOCK,
            "item": item_id,
            "available": available,
            "waiting": waiting,
        }
    )


PONG = encode({"type": MessageType.PONG})


def error(code: ErrorCode, detail: str, **extra) -> str:
    return encode({"type": MessageType.ERROR, "code": code, "detail": detail, **extra})


# The legacy /notification/count protocol: an item changed, ask the HTTP API for the rest.
def legacy_grouped(user_id: int) -> str:
    return encode({"grouped": str(user_id)})


def legacy_update_count(item_id: int) -> str:
    return encode({"text": "UPDATE_COUNT", "item": item_id})
