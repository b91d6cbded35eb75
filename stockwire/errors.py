"""What Stockwire's public API raises, and the database errors it answers as unavailable."""

from django.db import InterfaceError, OperationalError

# What Django raises when the database cannot be reached (down, restarting, cut off, or a
# connection pool gave up waiting): a socket that needs it is closed with 4503.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class StockwireError(Exception):
    """Base of Stockwire's errors; `code` is stable for clients to switch on."""

    code = "stockwire_error"


class UnknownItem(StockwireError, LookupError):
    """Raised by take() and give() for an item id the stock model does not have."""

    code = "unknown_item"

    def __init__(self, item_id: int):
        super().__init__(f"There is no item {item_id}.")
        self.item_id = item_id


class OutOfStock(StockwireError):
    """Raised by take() when fewer units are available than requested; nothing changed."""

    code = "insufficient_stock"

    def __init__(self, item_id: int, *, requested: int, available: int):
        super().__init__(f"Only {available} left of item {item_id}; {requested} requested.")
        self.item_id = item_id
        self.requested = requested
        self.available = available


class UnknownHold(StockwireError, LookupError):
    """No hold of this user by that id is active (never was, someone else's, or ended)."""

    code = "unknown_hold"

    def __init__(self, hold_id: int):
        super().__init__(f"You have no active hold {hold_id}.")
        self.hold_id = hold_id


class HoldExpired(StockwireError):
    """The hold's time ran out before the purchase; its units went back to the others."""

    code = "hold_expired"

    def __init__(self, hold_id: int):
        super().__init__(f"Hold {hold_id} has expired; its units are for sale again.")
        self.hold_id = hold_id


class HoldMismatch(StockwireError):
    """A purchase through a hold asks for another item, or more units than it holds."""

    code = "hold_mismatch"

    def __init__(self, hold_id: int, *, item_id: int, quantity: int):
        super().__init__(
            f"Hold {hold_id} is for {quantity} of item {item_id}; buy at most that through it."
        )
        self.hold_id = hold_id


class HoldLimitReached(StockwireError):
    """The user holds as many units as HOLD_LIMIT_PER_ITEM or HOLD_LIMIT_TOTAL allows."""

    code = "hold_limit_reached"

    def __init__(self, detail: str, *, limit: int):
        super().__init__(detail)
        self.limit = limit


class InStock(StockwireError):
    """An alert was asked for an item that can be bought now: nothing to wait for."""

    code = "in_stock"

    def __init__(self, item_id: int, *, available: int):
        super().__init__(f"Item {item_id} is in stock: {available} available now.")
        self.item_id = item_id
        self.available = available


class UnknownAlert(StockwireError, LookupError):
    """No waiting alert of this user by that id (never was, someone else's, fired or cancelled)."""

    code = "unknown_alert"

    def __init__(self, alert_id: int):
        super().__init__(f"You have no waiting alert {alert_id}.")
        self.alert_id = alert_id
