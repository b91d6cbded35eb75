"""The ASGI entry point: Django for HTTP, the real-time layer for WebSockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up first)

from config.limits import RequestBodyLimit  # noqa: E402
from realtime.routing import application as websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {"http": RequestBodyLimit(http_application), "websocket": websocket_application}
)
