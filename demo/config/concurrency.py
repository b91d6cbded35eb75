"""At most REQUEST_CONCURRENCY requests of a process in Django at once; the rest wait their
turn in the event loop, in arrival order.

Django's ASGI handler gives every request a thread of its own for its sync code. In a flash
sale, hundreds of requests arrive at once: hundreds of threads, each started by the event
loop, competing for the GIL and for the database pool, while the one holding the item's row
lock waits its turn for both (measured: 398 threads in one process, 29 % of their time
waiting for a pooled connection). A waiting request here costs a coroutine, not a thread.
"""

import asyncio

from django.conf import settings


class ConcurrencyLimit:
    def __init__(self, app):
        self.app = app
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send):
        if self._slots is None:
            self._slots = asyncio.Semaphore(settings.REQUEST_CONCURRENCY)
        async with self._slots:
            return await self.app(scope, receive, send)
