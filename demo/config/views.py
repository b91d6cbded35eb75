"""Error pages: JSON under /api/, Django's HTML pages elsewhere.

An unreachable database is 503, not 500, everywhere: it is not a bug, and it passes.
"""

import sys

from django.http import HttpResponse
from django.views import csrf, defaults

from shop.api.errors import (
    RETRY_AFTER_SECONDS,
    database_unavailable,
    json_error,
    log_database_unavailable,
)
from shop.errors import DATABASE_ERRORS

UNAVAILABLE_PAGE = (
    "<!doctype html><title>Service Unavailable</title><h1>Service Unavailable (503)</h1>"
    "<p>The shop cannot reach its database. Please try again in a moment.</p>"
)


def server_error(request):
    # Django calls this while it handles the exception (on ASGI too: asgiref re-raises it in
    # the worker thread), so it is the one place that sees errors of views and middleware alike.
    error = sys.exc_info()[1]
    api = request.path.startswith("/api/")
    if isinstance(error, DATABASE_ERRORS):
        log_database_unavailable(request, error)
        if api:
            return database_unavailable()
        return HttpResponse(
            UNAVAILABLE_PAGE, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    if api:
        return json_error(
            500, "server_error", "Something went wrong on our side. Please try again."
        )
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    if request.path.startswith("/api/"):
        return json_error(403, "csrf_failed", f"CSRF verification failed: {reason}")
    return csrf.csrf_failure(request, reason)
