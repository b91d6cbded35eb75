"""The project a new user makes with `startproject` and `startapp`, written as the README's
"Add live stock to your Django shop" says, and the two ways it is served."""

from collections.abc import Callable
from pathlib import Path

ITEM = 1  # the project's one Product

# What the README has a new user write.
MODELS = """\
from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField(default=0)
    version = models.BigIntegerField(default=1)
"""

VIEWS = """\
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import stockwire

from .models import Product


@csrf_exempt
@require_POST
def buy(request, pk):
    try:
        with transaction.atomic():
            stock = stockwire.take(pk, 1)
    except stockwire.OutOfStock as error:
        return JsonResponse({"error": "sold out", "available": error.available}, status=409)
    return JsonResponse({"quantity": stock.available, "version": stock.version})


def products(request):
    return render(request, "store/products.html", {"products": Product.objects.order_by("pk")})
"""

TEMPLATE = """\
{% load stockwire %}<!doctype html>
<html>
<head><title>Store</title>{% stockwire_script %}</head>
<body>
{% for p in products %}
  <p>{{ p.name }}:
    <span data-stock-item="{{ p.pk }}" data-version="{{ p.version }}">{{ p.quantity }}</span></p>
{% endfor %}
</body>
</html>
"""

URLS = """\
from django.contrib import admin
from django.urls import path

from store import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.products, name="products"),
    path("products/<int:pk>/buy/", views.buy, name="buy"),
]
"""

SETTINGS = """
INSTALLED_APPS = ["daphne", *INSTALLED_APPS, "channels", "stockwire", "store"]
ASGI_APPLICATION = "mysite.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
STOCKWIRE = {"MODEL": "store.Product", "ANONYMOUS": True, "RESYNC_SECONDS": 0.5}
"""

ASGI = """\
import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django_asgi_app = get_asgi_application()

from stockwire.auth import StockwireAuthMiddlewareStack  # noqa: E402
from stockwire.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": StockwireAuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
"""

# Stock changed the way a bulk update, the admin or another program does: nothing published.
UNPUBLISHED_CHANGE = (
    "from django.db.models import F; from store.models import Product; "
    "Product.objects.filter(pk={item}).update(quantity={quantity}, version=F('version') + 1); "
    "p = Product.objects.get(pk={item}); print('STOCK', p.quantity, p.version)"
)

# The servers, as README and docs/integrating.md start them, in the project's directory.
SERVERS: dict[str, Callable[[Path, int], list[str]]] = {
    # daphne first in INSTALLED_APPS: its runserver, the standard ASGI send path.
    "runserver": lambda venv, port: [
        str(venv / "bin" / "python"),
        "manage.py",
        "runserver",
        f"127.0.0.1:{port}",
        "--noreload",
    ],
    # Stockwire's frame writer; it only writes uncompressed sockets, so no per-message deflate.
    "uvicorn": lambda venv, port: [
        str(venv / "bin" / "uvicorn"),
        "mysite.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ws",
        "stockwire.uvicorn:WebSocketProtocol",
        "--ws-per-message-deflate",
        "false",
    ],
}
