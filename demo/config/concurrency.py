"""At most REQUEST_CONCURRENCY requests of a process in Django at once, each on a thread kept
for the purpose (a lane); the rest wait their turn in the event loop, in arrival order.

Django's ASGI handler gives every request a thread of its own for its sync code: started
for the request, and joined after it by one more. In a flash sale, hundreds of requests
arrive at once: hundreds of threads, each started by the event loop, competing for the GIL
and for the database pool, while the one holding the item's row lock waits its turn for both
(measured: 398 threads in one process, 29 % of their time waiting for a pooled connection).
Here a waiting request costs a coroutine, not a thread, and a request inside runs its sync
code on its lane's thread (asgiref's ThreadSensitiveContext with an executor of ours, which
Django's own context then keeps), so no thread is started or joined per request. On SQLite,
where the requests' sync code shares asgiref's one sync thread (config/asgi.py), the turns
are only turns.

Requests that check or set a password (PASSWORD_PATHS) take lanes of their own, at most
PASSWORD_CONCURRENCY at once: each is a fraction of a second of hashing by design, and a burst
of logins (an attack, or a crowd after a restart) would otherwise fill every lane and stall
the shop behind them.
"""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings

# The requests that check or set a password (logging in, registering, changing one).
PASSWORD_PATHS = re.compile(
    r"/api/auth/(token|register)|/(login|register)/"
    r"|/admin/(login/|password_change/|auth/user/[^/]+/password/)"
)


class Lanes:
    """`count` turns in Django, taken in arrival order; with `threads`, each turn is a thread
    of its own that runs the sync code of the one request holding it."""

    def __init__(self, count: int, *, threads: bool, name: str):
        self._turns = asyncio.Semaphore(count)
        self._free: list[ThreadPoolExecutor | None] = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-lane-{n}")
            if threads
            else None
            for n in range(count)
        ]

    async def run(self, app, scope, receive, send):
        async with self._turns:
            lane = self._free.pop()
            try:
                if lane is None:
                    return await app(scope, receive, send)
                async with ThreadSensitiveContext(executor=lane):
                    return await app(scope, receive, send)
            finally:
                self._free.append(lane)


class ConcurrencyLimit:
    def __init__(self, app):
        self.app = app
        self._lanes: Lanes | None = None
        self._password_lanes: Lanes | None = None

    async def __call__(self, scope, receive, send):
        if self._lanes is None:
            self._lanes = Lanes(
                settings.REQUEST_CONCURRENCY,
                threads=not settings.REQUESTS_SHARE_SYNC_THREAD,
                name="request",
            )
            self._password_lanes = Lanes(
                settings.PASSWORD_CONCURRENCY, threads=True, name="password"
            )
        lanes = self._password_lanes if PASSWORD_PATHS.fullmatch(scope["path"]) else self._lanes
        return await lanes.run(self.app, scope, receive, send)
