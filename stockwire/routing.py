"""Stockwire's WebSocket routes, for a project's asgi.py:

    URLRouter(websocket_urlpatterns)               # inside StockwireAuthMiddlewareStack

`not_found` answers every other path with close code 4404; append it last, after the
project's own routes, if the project has no catch-all of its own.
"""

from django.urls import path, re_path

from .consumers import LegacyCountConsumer, StockConsumer, UnknownPathConsumer

websocket_urlpatterns = [
    path("ws/stock/", StockConsumer.as_asgi(), name="stockwire-stock"),
    re_path(r"^notification/count/?$", LegacyCountConsumer.as_asgi(), name="stockwire-legacy"),
]

not_found = re_path(r"", UnknownPathConsumer.as_asgi(), name="stockwire-not-found")
