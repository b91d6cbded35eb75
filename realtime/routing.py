"""Which consumer serves a WebSocket path.

Stockwire's paths are fixed strings, so a dict lookup does what Channels' URLRouter and
`as_asgi()` would, without what they cost each socket for its whole life: a copy of the
scope (with `url_route`) and two coroutine frames. The router makes the consumer and returns
its coroutine instead of awaiting it.
"""

from .auth import WebSocketAuthMiddleware
from .consumers import LegacyCountConsumer, StockConsumer, UnknownPathConsumer


class PathRouter:
    # A plain callable returning a coroutine: tell asgiref it is ASGI 3, not a double callable.
    _asgi_single_callable = True

    def __init__(self, routes: dict[str, type], default: type):
        self.routes = routes
        self.default = default

    def __call__(self, scope, receive, send):
        consumer = self.routes.get(scope["path"], self.default)()
        return consumer(scope, receive, send)


application = WebSocketAuthMiddleware(
    PathRouter(
        {
            "/ws/stock/": StockConsumer,
            "/notification/count": LegacyCountConsumer,
            "/notification/count/": LegacyCountConsumer,
        },
        default=UnknownPathConsumer,
    )
)
