"""What can go wrong in the shop, as one hierarchy.

Mapped once to HTTP (shop/api/errors.py).
Each error carries a stable `code` that clients can switch on.
"""

from django.db import InterfaceError, OperationalError

# What Django raises when the database cannot be reached (down, restarting, cut off, or the
# connection pool gave up waiting): answered 503 over HTTP and 4503 on a WebSocket.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class ShopError(Exception):
    code = "shop_error"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ItemNotFound(ShopError):
    code = "unknown_item"

    def __init__(self, item_id: int):
        super().__init__(f"There is no item {item_id}.", item=item_id)


class InsufficientStock(ShopError):
    code = "insufficient_stock"

    def __init__(self, item_id: int, *, requested: int, available: int):
        super().__init__(
            f"Only {available} left of item {item_id}; {requested} requested.",
            item=item_id,
            available=available,
        )


class InvalidQuantity(ShopError):
    code = "invalid_quantity"


class IdempotencyKeyReused(ShopError):
    code = "idempotency_key_reused"


class StaffOnly(ShopError):
    code = "permission_denied"


class UsernameTaken(ShopError):
    code = "username_taken"


class HoldNotFound(ShopError):
    code = "unknown_hold"


class HoldExpired(ShopError):
    code = "hold_expired"


class HoldMismatch(ShopError):
    code = "hold_mismatch"


class HoldLimitReached(ShopError):
    code = "hold_limit_reached"


class InStock(ShopError):
    code = "in_stock"

    def __init__(self, item_id: int, *, available: int):
        super().__init__(
            f"Item {item_id} is in stock: {available} available now; no need to wait.",
            item=item_id,
            available=available,
        )


class AlertNotFound(ShopError):
    code = "unknown_alert"
