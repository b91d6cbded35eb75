"""Reads the API and the pages share."""

from django.db.models import QuerySet

from .models import Item, Order


def catalog() -> QuerySet[Item]:
    return Item.objects.all()


def item(item_id: int) -> Item | None:
    return Item.objects.filter(pk=item_id).first()


def orders_of(user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("item")
