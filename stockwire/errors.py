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
