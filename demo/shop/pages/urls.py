from django.contrib.auth import views as auth_views
from django.urls import path

from shop import converters  # noqa: F401  (registers <item_id:...>)

from . import views

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("items/<item_id:item_id>/", views.item, name="item"),
    path("orders/", views.orders, name="orders"),
    path("staff/stock/", views.stock_room, name="stock-room"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
]
