from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from shop.serializers import HoldSerializer, ItemSerializer, OrderSerializer
from shop.services import MAX_QUANTITY


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: DRF's IntegerField would take "3" or 3.0."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class QuantitySerializer(serializers.Serializer):
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class PurchaseSerializer(QuantitySerializer):
    # The id of the buyer's hold on the item, to buy the units it keeps for them.
    hold = StrictIntegerField(required=False, min_value=1, max_value=2**63 - 1)


class HoldResultSerializer(serializers.Serializer):
    hold = HoldSerializer()
    item = ItemSerializer()


class PurchaseResultSerializer(serializers.Serializer):
    order = OrderSerializer()
    item = ItemSerializer()


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField would take 123 or 9.8e259 as text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    pass


class RegisterSerializer(serializers.Serializer):
    username = StrictRegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @.+-_ only."},
    )
    password = StrictCharField(write_only=True, max_length=128, trim_whitespace=False)

    def validate(self, attrs):
        user = get_user_model()(username=attrs["username"])
        try:
            validate_password(attrs["password"], user)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
