"""Failed logins: limited per account and per client address, and logged, on every login
path (the API's token, the login page, the admin).

A guessed password costs the guesser a failure on the account and on the address it came
from. Past LOGIN_FAILURES_PER_ACCOUNT failures on an account, or LOGIN_FAILURES_PER_ADDRESS
from an address, within one LOGIN_FAILURE_WINDOW, logins there are refused until the window
ends, the right password included: otherwise a guesser would learn when they hit it. A
window opens with the first failure it counts, not on the clock's quarter hours, where a
guesser would get twice the tries across the turn. An address gets more tries than an
account, as many people share one (an office, a mobile carrier). The counts live in the
cache: Redis, shared by every process, when it is there.
"""

import hashlib
import logging
import unicodedata

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver

from shop import windows

logger = logging.getLogger("stockwire.shop.logins")


def login_wait(request, username: str | None) -> int:
    """Seconds until a login to `username` from this request's address may be tried; 0 if now.

    The limit must never lock the shop out of logins when the cache is away: then it allows,
    and says so in the log.
    """
    limits = _limits(request, username)
    try:
        found = windows.read(cache, list(limits), settings.LOGIN_FAILURE_WINDOW)
    except Exception:
        logger.warning("login limit unavailable; allowing the login", exc_info=True)
        return 0
    waits = [left for key, (count, left) in found.items() if count >= limits[key]]
    return max(1, *waits) if waits else 0


@receiver(user_login_failed)
def record_failed_login(sender, credentials, request=None, **kwargs) -> None:
    """Count the failure against the account and the address, and log it: the username tried
    and the address, never the password (Django's signal has already masked it)."""
    username = credentials.get("username")
    client = _address(request)
    path = request.path if request is not None else "-"
    logger.warning("login failed: username=%r client=%s path=%s", username, client, path)
    if request is None:
        return
    try:
        for key in _limits(request, username):
            windows.count(cache, key, settings.LOGIN_FAILURE_WINDOW)
    except Exception:
        logger.warning("login limit unavailable; failure not counted", exc_info=True)


def _limits(request, username: str | None) -> dict[str, int]:
    """The cache key of each count this login is held to, and its limit."""
    limits = {f"login-failures:address:{_address(request)}": settings.LOGIN_FAILURES_PER_ADDRESS}
    if username:
        # One account however its name is typed, as registration judges a name taken; hashed,
        # as a name tried can be anything and as long as the request allows.
        account = unicodedata.normalize("NFKC", username).casefold()
        digest = hashlib.sha256(account.encode()).hexdigest()[:32]
        limits[f"login-failures:account:{digest}"] = settings.LOGIN_FAILURES_PER_ACCOUNT
    return limits


def _address(request) -> str:
    # The direct client's address; uvicorn puts a trusted proxy's X-Forwarded-For here.
    return request.META.get("REMOTE_ADDR", "-") if request is not None else "-"
