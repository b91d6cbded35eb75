"""How items and orders look outside the database: in the JSON API and in the order message
each of the buyer's sockets gets (shop.services.order_message), the same way in both."""

from functools import cache

from rest_framework import serializers

from .models import Item


def _price():
    field = Item._meta.get_field("price")
    return serializers.DecimalField(
        max_digits=field.max_digits, decimal_places=field.decimal_places, read_only=True
    )


# Read-only serializers declared field by field: a ModelSerializer builds its fields from the
# model again each time it is used, which was a tenth of a purchase's CPU (measured).


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    sku = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    price = _price()
    # What a buyer can buy now, as the live stock message's `quantity` says; of `on_hand`
    # units, `held` are kept for buyers deciding.
    quantity = serializers.IntegerField(source="available", read_only=True)
    on_hand = serializers.IntegerField(source="quantity", read_only=True)
    held = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(read_only=True)


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)
    # What was bought, in words, so a receipt needs no second request.
    item_name = serializers.CharField(source="item.name", read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    unit_price = _price()
    created_at = serializers.DateTimeField(read_only=True)


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class HoldSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)


def represent(serializer_class: type[serializers.Serializer], instance) -> dict:
    """`instance` as a read-only serializer of this class represents it.

    One instance of the class renders everything: a new DRF serializer deep-copies each of
    its declared fields, and a nested serializer's too: 7 % of a purchase's busy CPU
    (py-spy). Rendering changes nothing in these read-only serializers, so all threads share
    one; a serializer that keeps per-request state (its context) must not be rendered here.
    """
    return _renderer(serializer_class).to_representation(instance)


@cache
def _renderer(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    return serializer_class()
