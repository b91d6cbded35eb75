"""How often a user may buy and an address may register (DRF throttles, counted in the cache:
Redis, shared by every process, when it is there). Rates are read when used, so tests can
change them. The limits guard against scripts; the shop keeps selling if Redis blinks."""

import logging

from django.conf import settings
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from shop import windows
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


class CountingThrottle(SimpleRateThrottle):
    """A DRF rate throttle whose count is one atomic step in the cache.

    DRF's own reads a request history from the cache and writes it back, so requests that
    arrive together all read the same history and all pass (measured: 20 simultaneous
    purchases of one shopper at 3/min sold more than 3 in 2 runs of 5). Here each request adds
    one to a count, in one step, for a window that opens with its first request and lasts
    the rate's period (shop/windows.py); on Redis the whole step is one round trip.
    """

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        count, self.left = windows.count(self.cache, self.key, self.duration)
        return count <= self.num_requests

    def wait(self) -> float:
        return self.left


class PurchaseRateThrottle(FailOpen, CountingThrottle, UserRateThrottle):
    """Purchases per user (settings.PURCHASE_RATE)."""

    scope = "purchase"

    def get_rate(self) -> str:
        return settings.PURCHASE_RATE


class RegistrationRateThrottle(FailOpen, CountingThrottle, AnonRateThrottle):
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
