"""At most REQUEST_CONCURRENCY requests of a process in Django at once; the rest wait their
turn in the event loop, in arrival order.

Django's ASGI handler gives every request a thread of its own for its sync code. In a flash
sale, hundreds of requests arrive at once: hundreds of threads, each started by the event
loop, competing for the GIL and for the database pool, while the one holding the item's row
lock waits its turn for both (measured: 398 threads in one process, 29 % of their time
waiting for a pooled connection). A waiting request here costs a coroutine, not a thread.

Requests that check or set a password (PASSWORD_PATHS) take turns of their own, at most
PASSWORD_CONCURRENCY at once: each is a fraction of a second of hashing by design, and a burst
of logins (an attack, or a crowd after a restart) would otherwise fill every turn and stall
the shop behind them.
"""

import asyncio
import re

from django.conf import settings

# The requests that check or set a password (logging in, registering, changing one).
PASSWORD_PATHS = re.compile(
    r"/api/auth/(token|register)|/(login|register)/"
    r"|/admin/(login/|password_change/|auth/user/[^/]+/password/)"
)


class ConcurrencyLimit:
    def __init__(self, app):
        self.app = app
        self._slots: asyncio.Semaphore | None = None
        self._password_slots: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send):
        if self._slots is None:
            self._slots = asyncio.Semaphore(settings.REQUEST_CONCURRENCY)
            self._password_slots = asyncio.Semaphore(settings.PASSWORD_CONCURRENCY)
        slots = self._password_slots if PASSWORD_PATHS.fullmatch(scope["path"]) else self._slots
        async with slots:
            return await self.app(scope, receive, send)
