"""The ASGI entry point: Django for HTTP, Stockwire's routes for WebSockets.

The Channels tutorial's asgi.py, with Stockwire's two imports (docs/integrating.md); Django's
handler comes from config/handler.py, which does a request's sync work in one trip.
"""

import os

from config.handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (Django set up first)
from django.conf import settings  # noqa: E402

from config.concurrency import PASSWORD_PATHS, ConcurrencyLimit  # noqa: E402
from config.limits import RequestBodyLimit  # noqa: E402
from stockwire.auth import StockwireAuthMiddlewareStack  # noqa: E402
from stockwire.routing import not_found, websocket_urlpatterns  # noqa: E402


async def shared_sync_thread_application(scope, receive, send):
    """Django's handler without a thread for each request, except for PASSWORD_PATHS, which
    keep the password lanes' threads (config/concurrency.py): hashing a password on the
    shared thread would hold up every other request and socket for that long.

    The request's sync code (middleware, view, ORM) then runs on asgiref's one sync thread,
    where the consumers' database calls run too, with one long-lived database connection.
    """
    if PASSWORD_PATHS.fullmatch(scope["path"]):
        await django_application(scope, receive, send)
    else:
        await django_application.handle(scope, receive, send)


http_application = (
    shared_sync_thread_application if settings.REQUESTS_SHARE_SYNC_THREAD else django_application
)

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(ConcurrencyLimit(http_application)),
        "websocket": StockwireAuthMiddlewareStack(URLRouter([*websocket_urlpatterns, not_found])),
    }
)
