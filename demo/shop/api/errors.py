"""Every API failure as JSON: {"error": <code>, "detail": <message>, ...}.

Domain errors (shop.errors) map to statuses here, once; DRF's own exceptions keep their
status and get a stable code. An unreachable database is 503 `database_unavailable`.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from shop import errors
from shop.errors import DATABASE_ERRORS

logger = logging.getLogger("stockwire.api")

STATUS_OF = {
    errors.ItemNotFound: status.HTTP_404_NOT_FOUND,
    errors.InsufficientStock: status.HTTP_409_CONFLICT,
    errors.InvalidQuantity: status.HTTP_400_BAD_REQUEST,
    errors.StaffOnly: status.HTTP_403_FORBIDDEN,
    errors.UsernameTaken: status.HTTP_400_BAD_REQUEST,
    errors.IdempotencyKeyReused: status.HTTP_409_CONFLICT,
    errors.HoldNotFound: status.HTTP_404_NOT_FOUND,
    errors.HoldExpired: status.HTTP_409_CONFLICT,
    errors.HoldMismatch: status.HTTP_400_BAD_REQUEST,
    errors.HoldLimitReached: status.HTTP_409_CONFLICT,
    errors.InStock: status.HTTP_409_CONFLICT,
    errors.AlertNotFound: status.HTTP_404_NOT_FOUND,
}

# DRF's codes, renamed where a client deserves a clearer word.
CODE_OF = {
    "invalid": "invalid_request",
    "parse_error": "malformed_json",
    "not_authenticated": "not_authenticated",
    "authentication_failed": "authentication_failed",
    "token_not_valid": "invalid_token",
    "permission_denied": "permission_denied",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "rate_limited",
}


# A hint, not a promise: long enough not to hammer a database that is coming back, short
# enough that a client retrying by it notices the recovery within seconds.
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = "The shop's database is unreachable; please try again shortly."


class TooManyFailedLogins(exceptions.Throttled):
    default_code = "too_many_failed_logins"
    default_detail = "Too many failed logins for this account or from your address."


class DomainError(exceptions.APIException):
    def __init__(self, error: errors.ShopError):
        super().__init__(error.detail, error.code)
        self.code = error.code
        self.status_code = STATUS_OF.get(type(error), status.HTTP_400_BAD_REQUEST)
        self.extra = error.extra


def api_exception_handler(exc, context):
    if isinstance(exc, errors.ShopError):
        exc = DomainError(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DATABASE_ERRORS):
        log_database_unavailable(context["request"], exc)
        exc = DatabaseUnavailable()
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = {**_body(exc), **getattr(exc, "extra", {})}
    if isinstance(exc, DatabaseUnavailable):
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _body(exc) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first_field, messages = next(iter(fields.items()))
        message = messages[0] if isinstance(messages, list) else messages
        prefix = "" if first_field == "non_field_errors" else f"{first_field}: "
        return {"error": "invalid_request", "detail": f"{prefix}{message}", "fields": fields}
    if isinstance(exc, DomainError):
        return {"error": exc.code, "detail": str(exc.detail)}
    code = getattr(exc, "default_code", "error")
    detail = exc.detail
    if isinstance(detail, dict):
        code = str(detail.get("code", code))
        detail = detail.get("detail", "")
    return {"error": CODE_OF.get(code, code), "detail": str(detail)}


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status_code)


def database_unavailable() -> JsonResponse:
    """The JSON 503 for an unreachable database, for code outside DRF's views."""
    response = json_error(503, DatabaseUnavailable.default_code, DatabaseUnavailable.default_detail)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def log_database_unavailable(request, exc: Exception) -> None:
    # One line, no traceback: during an outage every request fails the same way.
    logger.warning(
        "database unavailable: %s %s: %s: %s",
        request.method,
        request.path,
        type(exc).__name__,
        str(exc).strip().replace("\n", " "),
    )


@csrf_exempt  # it changes nothing, and a CSRF refusal would be an HTML page
def unknown_endpoint(request, *args, **kwargs) -> JsonResponse:
    return json_error(404, "not_found", f"No API endpoint at {request.path}.")
