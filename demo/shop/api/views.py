"""The JSON API: each view parses, calls a service or selector, and renders."""

import logging

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from shop import selectors, services
from shop.serializers import AlertSerializer, represent
from shop.throttles import LoginThrottle, PurchaseRateThrottle, RegistrationRateThrottle

from .errors import TooManyFailedLogins
from .serializers import (
    HoldResultSerializer,
    HoldSerializer,
    ItemSerializer,
    OrderSerializer,
    PurchaseResultSerializer,
    PurchaseSerializer,
    QuantitySerializer,
    RegisterSerializer,
    UserSerializer,
)

logger = logging.getLogger("stockwire.shop")

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    OpenApiParameter.HEADER,
    description="Retries with the same key return the first order and sell nothing more.",
)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [RegistrationRateThrottle]

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer})
    def post(self, request):
        data = _valid(RegisterSerializer, request)
        user = services.register(username=data["username"], password=data["password"])
        return Response(
            {"id": user.pk, "username": user.get_username()}, status=status.HTTP_201_CREATED
        )


class TokenView(TokenObtainPairView):
    """simplejwt's login, held to the failed-login limits of every login path."""

    throttle_classes = [LoginThrottle]

    def throttled(self, request, wait):
        raise TooManyFailedLogins(wait)


class ItemListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ItemSerializer

    def get_queryset(self):
        return selectors.catalog()


class ItemDetailView(generics.RetrieveAPIView):
    permission_classes = [AllowAny]
    serializer_class = ItemSerializer

    def get_queryset(self):
        return selectors.catalog()


class PurchaseView(APIView):
    throttle_classes = [PurchaseRateThrottle]

    @extend_schema(
        request=PurchaseSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: PurchaseResultSerializer},
    )
    def post(self, request, item_id: int):
        data = _valid(PurchaseSerializer, request)
        order = services.purchase(
            user=request.user,
            item_id=item_id,
            quantity=data["quantity"],
            hold_id=data.get("hold"),
            idempotency_key=_idempotency_key(request),
        )
        # The item as this purchase left it, so a replayed request answers exactly as the first.
        item, movement = order.item, order.movement
        item.quantity, item.held, item.version = (
            movement.quantity_after,
            movement.held_after,
            movement.version,
        )
        result = {"order": order, "item": item}
        return Response(represent(PurchaseResultSerializer, result), status=status.HTTP_201_CREATED)


class HoldsView(APIView):
    @extend_schema(request=QuantitySerializer, responses={201: HoldResultSerializer})
    def post(self, request, item_id: int):
        quantity = _valid(QuantitySerializer, request)["quantity"]
        hold, item = services.place_hold(user=request.user, item_id=item_id, quantity=quantity)
        result = represent(HoldResultSerializer, {"hold": hold, "item": item})
        return Response(result, status=status.HTTP_201_CREATED)


class HoldListView(generics.ListAPIView):
    serializer_class = HoldSerializer

    def get_queryset(self):
        return selectors.holds_of(self.request.user)


class HoldView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, hold_id: int):
        services.release_hold(user=request.user, hold_id=hold_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertsView(APIView):
    @extend_schema(request=None, responses={201: AlertSerializer})
    def post(self, request, item_id: int):
        alert = services.notify_when_back(user=request.user, item_id=item_id)
        return Response(represent(AlertSerializer, alert), status=status.HTTP_201_CREATED)


class AlertListView(generics.ListAPIView):
    serializer_class = AlertSerializer

    def get_queryset(self):
        return selectors.alerts_of(self.request.user)


class AlertView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, alert_id: int):
        services.cancel_notification(user=request.user, alert_id=alert_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RestockView(APIView):
    @extend_schema(request=QuantitySerializer, responses={200: ItemSerializer})
    def post(self, request, item_id: int):
        quantity = _valid(QuantitySerializer, request)["quantity"]
        item = services.restock(actor=request.user, item_id=item_id, quantity=quantity)
        return Response(represent(ItemSerializer, item))


class OrderListView(generics.ListAPIView):
    serializer_class = OrderSerializer

    def get_queryset(self):
        return selectors.orders_of(self.request.user)


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise ValidationError(
            {"Idempotency-Key": ["Use 1 to 255 printable ASCII characters, e.g. a UUID."]}
        )
    return key


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
