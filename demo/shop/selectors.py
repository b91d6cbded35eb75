"""Reads the API and the pages share."""

from django.db.models import QuerySet
from django.utils import timezone

from stockwire.models import Hold

from .models import Item, Order


def catalog() -> QuerySet[Item]:
    return Item.objects.all()


def item(item_id: int) -> Item | None:
    return Item.objects.filter(pk=item_id).first()


def orders_of(user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("item")


def holds_of(user) -> QuerySet[Hold]:
    """The user's holds that still keep units for them, soonest to expire first."""
    return Hold.objects.filter(
        user=user, state=Hold.State.ACTIVE, expires_at__gt=timezone.now()
    ).order_by("expires_at", "id")
