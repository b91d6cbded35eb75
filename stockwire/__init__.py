"""Stockwire: live stock levels for Django shops, pushed over WebSockets.

The public API; docs/integrating.md shows it at work.

    quantity, version = stockwire.take(item_id, 2)     # a sale: never below zero
    quantity, version = stockwire.give(item_id, 10)    # a restock
    stockwire.publish_stock(item_id, quantity, version)  # stock you changed your own way
    stockwire.notify_user(user_id, {"type": "order", ...})

Each publishes once the current transaction commits; nothing is sent for a rollback.
"""

from .errors import OutOfStock, StockwireError, UnknownItem
from .publish import notify_user, publish_stock
from .stock import give, take

__all__ = [
    "OutOfStock",
    "StockwireError",
    "UnknownItem",
    "give",
    "notify_user",
    "publish_stock",
    "take",
]
