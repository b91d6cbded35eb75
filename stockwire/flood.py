"""A per-connection token bucket: how many client messages a socket may send."""

import time


class MessageBudget:
    """Allows `burst` messages at once and `per_second` on average after that."""

    __slots__ = ("_at", "_burst", "_per_second", "_tokens")

    def __init__(self, per_second: float, burst: int):
        self._per_second = per_second
        self._burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()

    def spend(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._per_second)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
