"""Error pages: JSON under /api/, Django's HTML pages elsewhere."""

from django.views import defaults

from shop.api.errors import json_error


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error(
            500, "server_error", "Something went wrong on our side. Please try again."
        )
    return defaults.server_error(request)
