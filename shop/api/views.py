"""The JSON API: each view parses, calls a service or selector, and renders."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from shop import selectors, services

from .serializers import (
    ItemSerializer,
    OrderSerializer,
    PurchaseResultSerializer,
    QuantitySerializer,
    RegisterSerializer,
    UserSerializer,
)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer})
    def post(self, request):
        data = _valid(RegisterSerializer, request)
        user = services.register(username=data["username"], password=data["password"])
        return Response(
            {"id": user.pk, "username": user.get_username()}, status=status.HTTP_201_CREATED
        )


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
    @extend_schema(request=QuantitySerializer, responses={201: PurchaseResultSerializer})
    def post(self, request, item_id: int):
        quantity = _valid(QuantitySerializer, request)["quantity"]
        order = services.purchase(user=request.user, item_id=item_id, quantity=quantity)
        result = {"order": order, "item": order.item}
        return Response(PurchaseResultSerializer(result).data, status=status.HTTP_201_CREATED)


class RestockView(APIView):
    @extend_schema(request=QuantitySerializer, responses={200: ItemSerializer})
    def post(self, request, item_id: int):
        quantity = _valid(QuantitySerializer, request)["quantity"]
        item = services.restock(actor=request.user, item_id=item_id, quantity=quantity)
        return Response(ItemSerializer(item).data)


class OrderListView(generics.ListAPIView):
    serializer_class = OrderSerializer

    def get_queryset(self):
        return selectors.orders_of(self.request.user)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
