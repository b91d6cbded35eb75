"""Every change to stock goes through these functions: the API, the admin and the demo loader
call them, so the rules below exist once.

Each change is one of Stockwire's conditional UPDATEs (stockwire.take, give, hold, release),
which move quantity, held and version together, in the same transaction as its StockMovement
(and Order); Stockwire publishes it only after commit. A change that brings a sold-out item
back fires its back-in-stock alerts (stockwire.alert) in that same transaction.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

import stockwire

from . import selectors
from .errors import (
    AlertNotFound,
    HoldExpired,
    HoldLimitReached,
    HoldMismatch,
    HoldNotFound,
    IdempotencyKeyReused,
    InStock,
    InsufficientStock,
    InvalidQuantity,
    ItemNotFound,
    ShopError,
    StaffOnly,
    UsernameTaken,
)
from .metrics import PURCHASES
from .models import Item, Order, StockMovement
from .serializers import OrderSerializer, represent

# Large enough for any real order or delivery, small enough that no sum overflows a 32-bit
# column on any database we support.
MAX_QUANTITY = 1_000_000


def purchase(
    *,
    user,
    item_id: int,
    quantity: int,
    hold_id: int | None = None,
    idempotency_key: str | None = None,
) -> Order:
    """Sell `quantity` units of an item to `user`, or raise without changing anything.

    Without a hold they come from what is available; through the user's hold (`hold_id`),
    from the units it keeps for them, and the rest of the hold is returned. With an
    `idempotency_key`, a retry (even one racing the first attempt) returns the order the key
    already made and sells nothing more.
    """
    try:
        order, replayed = _purchase(user, item_id, quantity, hold_id, idempotency_key)
    except ShopError as error:
        PURCHASES.labels(error.code).inc()
        raise
    PURCHASES.labels("replayed" if replayed else "sold").inc()
    return order


def _purchase(
    user, item_id: int, quantity: int, hold_id: int | None, idempotency_key: str | None
) -> tuple[Order, bool]:
    _check_quantity(quantity)
    if idempotency_key is not None and (
        done := _order_for_key(user, idempotency_key, item_id, quantity)
    ):
        return done, True
    # Read before the transaction: a sold-out item is refused from this read, without a
    # transaction or a wait for the row lock (most of a flash sale's answers). The order
    # keeps the price read here.
    item = selectors.item(item_id)
    if item is None:
        raise ItemNotFound(item_id)
    if hold_id is None:
        with _stock_errors(item_id):
            seen = stockwire.Stock(item.quantity, item.held, item.version)
            stockwire.check_available(item_id, quantity, seen)
    try:
        with transaction.atomic():
            # The order first: take() holds the item's row lock, which every other buyer of
            # the item waits for, until commit; so it is held for the sale and its audit row.
            order = Order.objects.create(
                user=user,
                item=item,
                quantity=quantity,
                unit_price=item.price,
                idempotency_key=idempotency_key,
            )
            with _stock_errors(item_id):
                after = stockwire.take(item_id, quantity, hold=hold_id, user_id=user.pk)
            item.quantity, item.held, item.version = after
            _record(item, -quantity, StockMovement.Reason.PURCHASE, actor=user, order=order)
        # Rendered after the row lock is released; sent once the order is committed.
        stockwire.notify_user(user.pk, order_message(order))
        return order, False
    except IntegrityError:
        # A concurrent attempt with the same key committed first; ours rolled back whole.
        if idempotency_key is not None and (
            done := _order_for_key(user, idempotency_key, item_id, quantity)
        ):
            return done, True
        raise


def place_hold(*, user, item_id: int, quantity: int):
    """Keep `quantity` available units of an item for `user` while they decide
    (STOCKWIRE["HOLD_SECONDS"]); returns the hold and the item as it left it."""
    _check_quantity(quantity)
    with _stock_errors(item_id):
        placed, after = stockwire.hold(item_id, quantity, user_id=user.pk)
    item = Item.objects.get(pk=item_id)
    item.quantity, item.held, item.version = after
    return placed, item


def release_hold(*, user, hold_id: int) -> None:
    """End one of `user`'s holds; its units are for sale again."""
    with _stock_errors(None):
        stockwire.release(hold_id, user_id=user.pk)


def notify_when_back(*, user, item_id: int):
    """Have `user` told (every open tab, and by email) when a sold-out item can be bought
    again; the waiting alert, the same one if they asked before."""
    with _stock_errors(item_id):
        return stockwire.alert(item_id, user_id=user.pk)


def cancel_notification(*, user, alert_id: int) -> None:
    """`user` no longer waits for the item of one of their alerts."""
    with _stock_errors(None):
        stockwire.cancel_alert(alert_id, user_id=user.pk)


def restock(*, actor, item_id: int, quantity: int) -> Item:
    """Add delivered units to an item. Staff only."""
    _check_staff(actor)
    _check_quantity(quantity)
    with transaction.atomic():
        with _stock_errors(item_id):
            stockwire.give(item_id, quantity)
        item = Item.objects.get(pk=item_id)
        _record(item, quantity, StockMovement.Reason.RESTOCK, actor=actor)
    return item


def adjust(*, actor, item_id: int, quantity: int) -> Item:
    """Set an item's stock to a counted level (a stocktake correction). Staff only."""
    _check_staff(actor)
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not 0 <= quantity <= MAX_QUANTITY
    ):
        raise InvalidQuantity(f"A stock level must be a whole number from 0 to {MAX_QUANTITY}.")
    with transaction.atomic():
        # The row lock makes the delta exact even if a purchase commits meanwhile.
        current = (
            Item.objects.select_for_update()
            .filter(pk=item_id)
            .values_list("quantity", "held")
            .first()
        )
        if current is None:
            raise ItemNotFound(item_id)
        before, held = current
        if quantity < held:
            raise InvalidQuantity(
                f"{held} units of item {item_id} are held for buyers: count at least {held}, "
                "or release their holds first."
            )
        if before == quantity:
            return Item.objects.get(pk=item_id)
        if quantity > before:
            stockwire.give(item_id, quantity - before)
        else:
            stockwire.take(item_id, before - quantity)
        item = Item.objects.get(pk=item_id)
        _record(item, quantity - before, StockMovement.Reason.ADJUST, actor=actor)
    return item


def create_item(*, actor, sku: str, name: str, price, quantity: int = 0) -> Item:
    """Add an item to the catalog; its opening stock is recorded as an adjustment."""
    _check_staff(actor)
    if quantity:
        _check_quantity(quantity)
    with transaction.atomic():
        item = Item.objects.create(sku=sku, name=name, price=price, quantity=quantity)
        if quantity:
            _record(item, quantity, StockMovement.Reason.ADJUST, actor=actor)
    return item


def order_message(order: Order) -> dict:
    """The order confirmation each of the buyer's sockets gets: the API's own representation."""
    return {"type": "order", "order": represent(OrderSerializer, order)}


def register(*, username: str, password: str):
    """Create a shopper account. The password is assumed to be validated already.

    One rule for every way in (the API, the register page): a username is taken when one
    differing only in case or by a compatibility form of a letter (NFKC: a fullwidth "a")
    exists, as Django's own user form judges; a unique index on UPPER(username) (migration
    0003) holds it under concurrent registrations too.
    """
    users = get_user_model()
    username = users.normalize_username(username)
    if users.objects.filter(username__iexact=username).exists():
        raise UsernameTaken(f"The username {username!r} is taken.")
    try:
        with transaction.atomic():
            return users.objects.create_user(username=username, password=password)
    except IntegrityError:
        raise UsernameTaken(f"The username {username!r} is taken.") from None


@contextmanager
def _stock_errors(item_id: int | None) -> Iterator[None]:
    """Stockwire's errors as the shop's own (shop.errors), with the same codes."""
    try:
        yield
    except stockwire.UnknownItem:
        raise ItemNotFound(item_id) from None
    except stockwire.OutOfStock as error:
        raise InsufficientStock(
            item_id, requested=error.requested, available=error.available
        ) from None
    except stockwire.UnknownHold as error:
        raise HoldNotFound(str(error), hold=error.hold_id) from None
    except stockwire.HoldExpired as error:
        raise HoldExpired(str(error), hold=error.hold_id) from None
    except stockwire.HoldMismatch as error:
        raise HoldMismatch(str(error), hold=error.hold_id) from None
    except stockwire.HoldLimitReached as error:
        raise HoldLimitReached(str(error), limit=error.limit) from None
    except stockwire.InStock as error:
        raise InStock(error.item_id, available=error.available) from None
    except stockwire.UnknownAlert as error:
        raise AlertNotFound(str(error), alert=error.alert_id) from None


def _order_for_key(user, key: str, item_id: int, quantity: int) -> Order | None:
    order = Order.objects.filter(user=user, idempotency_key=key).first()
    if order is not None and (order.item_id, order.quantity) != (item_id, quantity):
        raise IdempotencyKeyReused(
            f"The Idempotency-Key {key!r} was used for another purchase; use a new key."
        )
    return order


def _record(item: Item, delta: int, reason: str, *, actor, order: Order | None = None) -> None:
    """The audit row of a stock change, at the quantity and version the change left."""
    StockMovement.objects.create(
        item=item,
        delta=delta,
        reason=reason,
        quantity_after=item.quantity,
        held_after=item.held,
        version=item.version,
        actor=actor,
        order=order,
    )


def _check_quantity(quantity: int) -> None:
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not 1 <= quantity <= MAX_QUANTITY
    ):
        raise InvalidQuantity(f"A quantity must be a whole number from 1 to {MAX_QUANTITY}.")


def _check_staff(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise StaffOnly("Only staff can change stock levels.")
