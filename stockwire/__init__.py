"""Stockwire: live stock levels for Django shops, pushed over WebSockets.

The public API; docs/integrating.md shows it at work.

    stock = stockwire.take(item_id, 2)                  # a sale: never more than available
    stockwire.check_available(item_id, 2, seen)         # or refused early from a plain read
    stock = stockwire.give(item_id, 10)                 # a restock
    hold, stock = stockwire.hold(item_id, 1, user_id=user.pk)   # kept for a buyer a while
    stock = stockwire.take(item_id, 1, hold=hold.pk, user_id=user.pk)  # bought through it
    stock = stockwire.release(hold.pk, user_id=user.pk)          # or given back
    stockwire.publish_stock(item_id, on_hand, version)  # stock you changed your own way
    stockwire.notify_user(user_id, {"type": "order", ...})
    alert = stockwire.alert(item_id, user_id=user.pk)   # told once when a sold-out item is back
    stockwire.cancel_alert(alert.pk, user_id=user.pk)

`stock` is a Stock: `on_hand`, `held`, `version` and `available` (on hand, not held). Each
change publishes once the current transaction commits; nothing is sent for a rollback.
"""

from .alerts import alert, cancel_alert
from .errors import (
    HoldExpired,
    HoldLimitReached,
    HoldMismatch,
    InStock,
    OutOfStock,
    StockwireError,
    UnknownAlert,
    UnknownHold,
    UnknownItem,
)
from .holds import hold, release
from .publish import notify_user, publish_stock
from .stock import Stock, check_available, give, take

__all__ = [
    "HoldExpired",
    "HoldLimitReached",
    "HoldMismatch",
    "InStock",
    "OutOfStock",
    "Stock",
    "StockwireError",
    "UnknownAlert",
    "UnknownHold",
    "UnknownItem",
    "alert",
    "cancel_alert",
    "check_available",
    "give",
    "hold",
    "notify_user",
    "publish_stock",
    "release",
    "take",
]
