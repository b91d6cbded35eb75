"""Reads the API and the pages share."""

from django.db.models import QuerySet
from django.utils import timezone

from stockwire.models import Alert, Hold

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


def alerts_of(user) -> QuerySet[Alert]:
    """The user's alerts still waiting for their item to come back, oldest first."""
    return Alert.objects.filter(user=user, state=Alert.State.WAITING).order_by("created_at", "id")


def with_alerts(items, user) -> list[Item]:
    """The items, each with `alert_id`: the user's waiting alert for it, or None (the pages'
    "Notify me")."""
    waiting = dict(alerts_of(user).values_list("item_id", "pk"))
    items = list(items)
    for each in items:
        each.alert_id = waiting.get(each.pk)
    return items
