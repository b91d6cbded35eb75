"""How often a user may buy and an address may register (DRF throttles, counted in the cache:
Redis, shared by every process, when it is there). Rates are read when used, so tests can
change them. The limits guard against scripts; the shop keeps selling if Redis blinks."""

import logging

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle

from shop.logins import login_wait

logger = logging.getLogger("stockwire.shop")


class FailOpen:
    """A throttle whose cache is away lets the request through, and says so in the log."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("%s unavailable; allowing the request", self.scope, exc_info=True)
            return True


class PurchaseRateThrottle(FailOpen, UserRateThrottle):
    """Purchases per user (settings.PURCHASE_RATE)."""

    scope = "purchase"

    def get_rate(self) -> str:
        return settings.PURCHASE_RATE


class RegistrationRateThrottle(FailOpen, AnonRateThrottle):
    """New accounts per client address (settings.REGISTER_RATE), through the API or the
    register page alike."""

    scope = "register"

    def get_rate(self) -> str:
        return settings.REGISTER_RATE


class LoginThrottle(BaseThrottle):
    """Logins to an account or from an address with too many recent failures (shop/logins.py)."""

    def allow_request(self, request, view) -> bool:
        username = request.data.get("username") if isinstance(request.data, dict) else None
        self.retry_after = login_wait(request, username if isinstance(username, str) else None)
        return not self.retry_after

    def wait(self) -> int:
        return self.retry_after
