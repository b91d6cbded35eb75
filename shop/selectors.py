"""Reads the API, the pages and the real-time layer share."""

from collections.abc import Iterable

from django.db.models import QuerySet

from .models import Item, Order


def catalog() -> QuerySet[Item]:
    return Item.objects.all()


def item(item_id: int) -> Item | None:
    return Item.objects.filter(pk=item_id).first()


def stock_levels(item_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Current (quantity, version) of each existing item among `item_ids`, in one query."""
    rows = Item.objects.filter(pk__in=list(item_ids)).values_list("id", "quantity", "version")
    return {item_id: (quantity, version) for item_id, quantity, version in rows}


def orders_of(user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("item")
