from channels.routing import URLRouter
from django.urls import path, re_path

from .auth import WebSocketAuthMiddleware
from .consumers import LegacyCountConsumer, StockConsumer, UnknownPathConsumer

websocket_urlpatterns = [
    path("ws/stock/", StockConsumer.as_asgi()),
    re_path(r"^notification/count/?$", LegacyCountConsumer.as_asgi()),
    re_path(r"", UnknownPathConsumer.as_asgi()),
]

application = WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))
