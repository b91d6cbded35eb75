"""Stock as the shop keeps it: read through STOCKWIRE's MODEL or SOURCE, changed on MODEL.

take() and give() are one conditional UPDATE each, moving quantity and version together, so
two buyers of the last unit can never both get it and every change has a version of its own.
They publish after commit, and work inside the caller's transaction (an order and its audit
row commit or roll back with the stock change).
"""

from collections.abc import Callable, Iterable
from functools import cache

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, router, transaction
from django.utils.module_loading import import_string

from .conf import stockwire_settings
from .errors import OutOfStock, UnknownItem
from .publish import publish_stock

Levels = dict[int, tuple[int, int]]


def levels(item_ids: Iterable[int]) -> Levels:
    """Current (quantity, version) of each existing item among `item_ids`."""
    ids = list(item_ids)
    if not ids:
        return {}
    source = stockwire_settings.SOURCE
    if source:
        return _source(source)(ids)
    model = stock_model()
    quantity, version = _field_names()
    rows = model._default_manager.filter(pk__in=ids).values_list("pk", quantity, version)
    return {pk: (q, v) for pk, q, v in rows}


def take(item_id: int, quantity: int) -> tuple[int, int]:
    """Remove `quantity` units of an item; its (quantity, version) after. Never below zero."""
    _check_quantity(quantity)
    return _change(item_id, -quantity)


def give(item_id: int, quantity: int) -> tuple[int, int]:
    """Add `quantity` units of an item (a restock); its (quantity, version) after."""
    _check_quantity(quantity)
    return _change(item_id, quantity)


def stock_model() -> type[models.Model]:
    """The model STOCKWIRE["MODEL"] names; take() and give() change its rows."""
    label = stockwire_settings.MODEL
    if not label:
        raise ImproperlyConfigured(
            'Set STOCKWIRE["MODEL"] ("app_label.Model") to change stock with take() and give().'
        )
    return apps.get_model(label)


def _field_names() -> tuple[str, str]:
    return stockwire_settings.QUANTITY_FIELD, stockwire_settings.VERSION_FIELD


@cache
def _source(path: str) -> Callable[[list[int]], Levels]:
    return import_string(path)


def _check_quantity(quantity: int) -> None:
    if type(quantity) is not int or quantity < 1:
        raise ValueError(f"A quantity is a whole number of at least 1; got {quantity!r}.")


def _change(item_id: int, delta: int) -> tuple[int, int]:
    model = stock_model()
    using = router.db_for_write(model)
    connection = connections[using]
    meta = model._meta
    quote = connection.ops.quote_name
    quantity, version = (quote(meta.get_field(name).column) for name in _field_names())
    where = f"{quote(meta.pk.column)} = %s"
    params: list[int] = [abs(delta), item_id]
    if delta < 0:
        where += f" AND {quantity} >= %s"
        params.append(-delta)
    sign = "-" if delta < 0 else "+"
    update = (
        f"UPDATE {quote(meta.db_table)} SET {quantity} = {quantity} {sign} %s, "
        f"{version} = {version} + 1 WHERE {where}"
    )
    with connection.cursor() as cursor:
        if _returns_rows_from_update(connection):
            cursor.execute(f"{update} RETURNING {quantity}, {version}", params)
            row = cursor.fetchone()
        else:
            # Two statements: the read must see this update and no other.
            with transaction.atomic(using=using, savepoint=False):
                cursor.execute(update, params)
                row = _read(cursor, meta, quantity, version, item_id) if cursor.rowcount else None
        if row is None:
            current = _read(cursor, meta, quantity, version, item_id)
            if current is None:
                raise UnknownItem(item_id)
            raise OutOfStock(item_id, requested=-delta, available=current[0])
    after = (int(row[0]), int(row[1]))
    publish_stock(item_id, *after, using=using)
    return after


def _read(cursor, meta, quantity: str, version: str, item_id: int) -> tuple[int, int] | None:
    quote = cursor.db.ops.quote_name
    cursor.execute(
        f"SELECT {quantity}, {version} FROM {quote(meta.db_table)}"
        f" WHERE {quote(meta.pk.column)} = %s",
        [item_id],
    )
    return cursor.fetchone()


def _returns_rows_from_update(connection) -> bool:
    """UPDATE ... RETURNING: one statement where the database has it."""
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        return connection.Database.sqlite_version_info >= (3, 35)
    return False
