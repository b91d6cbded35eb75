from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework_simplejwt.views import TokenRefreshView

from shop import converters  # noqa: F401  (registers <item_id:...>, <hold_id:...>, <alert_id:...>)

from . import views
from .errors import unknown_endpoint

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="api-register"),
    path("auth/token", views.TokenView.as_view(), name="api-token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="api-token-refresh"),
    path("items", views.ItemListView.as_view(), name="api-items"),
    path("items/<item_id:pk>", views.ItemDetailView.as_view(), name="api-item"),
    path("items/<item_id:item_id>/purchase", views.PurchaseView.as_view(), name="api-purchase"),
    path("items/<item_id:item_id>/restock", views.RestockView.as_view(), name="api-restock"),
    path("items/<item_id:item_id>/holds", views.HoldsView.as_view(), name="api-holds-of-item"),
    path("holds", views.HoldListView.as_view(), name="api-holds"),
    path("holds/<hold_id:hold_id>", views.HoldView.as_view(), name="api-hold"),
    path("items/<item_id:item_id>/alerts", views.AlertsView.as_view(), name="api-alerts-of-item"),
    path("alerts", views.AlertListView.as_view(), name="api-alerts"),
    path("alerts/<alert_id:alert_id>", views.AlertView.as_view(), name="api-alert"),
    path("orders", views.OrderListView.as_view(), name="api-orders"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    re_path(r"", unknown_endpoint),
]
