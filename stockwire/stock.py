"""Stock as the shop keeps it: read through STOCKWIRE's MODEL or SOURCE, changed on MODEL.

An item has units on hand and units held for buyers who are deciding (HELD_FIELD); what a
buyer can take now is the difference. Every change is one conditional UPDATE that moves the
counts and the version together, so two buyers of the last unit can never both get it, a
held unit is never sold to another, and every state has a version of its own. Changes
publish after commit and work inside the caller's transaction (an order and its audit row
commit or roll back with the stock change).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, router, transaction
from django.utils.module_loading import import_string

from . import alerts, holds
from .conf import stockwire_settings
from .errors import OutOfStock, UnknownItem
from .publish import publish_stock


class Stock(NamedTuple):
    """An item's stock at one version: units on hand, and how many of them are held."""

    on_hand: int
    held: int
    version: int

    @property
    def available(self) -> int:
        """What a buyer without a hold can take now."""
        return self.on_hand - self.held


def levels(item_ids: Iterable[int]) -> dict[int, Stock]:
    """The current Stock of each existing item among `item_ids`."""
    ids = list(item_ids)
    if not ids:
        return {}
    source = stockwire_settings.SOURCE
    if source:
        found = _source(source)(ids)
        return {pk: Stock(quantity, 0, version) for pk, (quantity, version) in found.items()}
    fields = _fields()
    rows = stock_model()._default_manager.filter(pk__in=ids).values_list("pk", *fields.names())
    return {pk: _stock(counts, held=fields.held is not None) for pk, *counts in rows}


def take(
    item_id: int, quantity: int, *, hold: int | None = None, user_id: int | None = None
) -> Stock:
    """Remove `quantity` units of an item (a sale): from what is available, never more, or
    through the buyer's `hold` (its id; `user_id` is the buyer's), whatever others took."""
    check_quantity(quantity)
    if hold is None:
        return change(item_id, on_hand=-quantity, needs_available=quantity)
    if user_id is None:
        raise ValueError("A hold is taken by its buyer: pass user_id.")
    return holds.take_held(item_id, quantity, hold_id=hold, user_id=user_id)


def check_available(item_id: int, quantity: int, seen: Stock) -> None:
    """Refuse a sale early: raise OutOfStock if `seen`, the item's Stock as read without a
    lock (with the item, before the transaction), had fewer than `quantity` units available.

    At that moment there were too few, so the refusal is as true as take()'s, and it costs no
    statement and no wait for the row lock that the buyers of the last units hold: when an
    item sells out under a crowd, most buyers are answered this way. Enough units let nothing
    through; only take() sells.
    """
    check_quantity(quantity)
    if seen.available < quantity:
        raise OutOfStock(item_id, requested=quantity, available=seen.available)


def give(item_id: int, quantity: int) -> Stock:
    """Add `quantity` units of an item (a restock)."""
    check_quantity(quantity)
    return change(item_id, on_hand=quantity)


def stock_model() -> type[models.Model]:
    """The model STOCKWIRE["MODEL"] names; take() and give() change its rows."""
    label = stockwire_settings.MODEL
    if not label:
        raise ImproperlyConfigured(
            'Set STOCKWIRE["MODEL"] ("app_label.Model") to change stock with take() and give().'
        )
    return apps.get_model(label)


def change(item_id: int, *, on_hand: int = 0, held: int = 0, needs_available: int = 0) -> Stock:
    """Move an item's counts by the deltas in one statement and publish the result after
    commit; with `needs_available`, only if that many units are available before the change.
    Raises UnknownItem, or OutOfStock without changing anything.

    A change that brings an item back from nothing available fires its alerts in the same
    transaction (stockwire/alerts.py); a sale never does, and costs no query for them.
    """
    model = stock_model()
    using = router.db_for_write(model)
    connection = connections[using]
    sql = _statements(model, using, _fields())
    params = [on_hand, held] if sql.held else [on_hand]
    params.append(item_id)
    if needs_available:
        params.append(needs_available)
    update = sql.checked_update if needs_available else sql.update
    # One transaction: the alerts a change fires are claimed with it or not at all. A
    # refusal is raised outside it, so a caller's transaction can go on after one.
    with transaction.atomic(using=using, savepoint=False):
        with connection.cursor() as cursor:
            if sql.returning:
                cursor.execute(f"{update} RETURNING {sql.counts}", params)
                row = cursor.fetchone()
            else:
                # Two statements: the read must see this update and no other.
                cursor.execute(update, params)
                row = _read(cursor, sql, item_id) if cursor.rowcount else None
            current = _read(cursor, sql, item_id) if row is None else None
        if row is not None:
            after = _stock(row, held=sql.held)
            if after.available - (on_hand - held) <= 0 < after.available:
                alerts.fire(item_id, after.available, using=using)
    if row is None:
        if current is None:
            raise UnknownItem(item_id)
        raise OutOfStock(item_id, requested=needs_available, available=current.available)
    publish_stock(item_id, after.on_hand, after.version, held=after.held, using=using)
    return after


def locked(item_id: int) -> Stock:
    """An item's Stock, its row locked until the transaction ends (where the database locks
    rows), so no change of it commits meanwhile. Raises UnknownItem."""
    model = stock_model()
    fields = _fields()
    row = (
        model._default_manager.select_for_update()
        .filter(pk=item_id)
        .values_list(*fields.names())
        .first()
    )
    if row is None:
        raise UnknownItem(item_id)
    return _stock(row, held=fields.held is not None)


@dataclass(frozen=True)
class _Fields:
    quantity: str
    version: str
    held: str | None

    def names(self) -> list[str]:
        return [self.quantity, self.version, *([self.held] if self.held else [])]


def _fields() -> _Fields:
    return _Fields(
        stockwire_settings.QUANTITY_FIELD,
        stockwire_settings.VERSION_FIELD,
        stockwire_settings.HELD_FIELD,
    )


@dataclass(frozen=True)
class _Statements:
    update: str
    # The same, only where enough units are available (on hand and not held).
    checked_update: str
    select: str
    counts: str
    held: bool
    returning: bool


@cache
def _statements(model: type[models.Model], using: str, fields: _Fields) -> _Statements:
    """The SQL of a change and of a read, built once per model, database and fields."""
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    column = {name: quote(meta.get_field(name).column) for name in fields.names()}
    quantity, version = column[fields.quantity], column[fields.version]
    held = column[fields.held] if fields.held else None
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sets = f"{quantity} = {quantity} + %s, "
    if held:
        sets += f"{held} = {held} + %s, "
    update = f"UPDATE {table} SET {sets}{version} = {version} + 1 WHERE {pk} = %s"
    available = f"{quantity} - {held}" if held else quantity
    counts = f"{quantity}, {version}" + (f", {held}" if held else "")
    return _Statements(
        update=update,
        checked_update=f"{update} AND {available} >= %s",
        select=f"SELECT {counts} FROM {table} WHERE {pk} = %s",
        counts=counts,
        held=held is not None,
        returning=_returns_rows_from_update(connection),
    )


def _read(cursor, sql: _Statements, item_id: int) -> Stock | None:
    cursor.execute(sql.select, [item_id])
    row = cursor.fetchone()
    return None if row is None else _stock(row, held=sql.held)


def _stock(row, *, held: bool) -> Stock:
    """A row of (quantity, version[, held]) as _Fields.names() orders them."""
    return Stock(int(row[0]), int(row[2]) if held else 0, int(row[1]))


@cache
def _source(path: str) -> Callable[[list[int]], dict[int, tuple[int, int]]]:
    return import_string(path)


def check_quantity(quantity: int) -> None:
    if type(quantity) is not int or quantity < 1:
        raise ValueError(f"A quantity is a whole number of at least 1; got {quantity!r}.")


def _returns_rows_from_update(connection) -> bool:
    """UPDATE ... RETURNING: one statement where the database has it."""
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        return connection.Database.sqlite_version_info >= (3, 35)
    return False
