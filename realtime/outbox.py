"""What is on its way to one socket.

Stock is state, not a stream: for each item only the newest version waits to be sent, so a
slow socket holds at most one frame per item, never slows the others, and never receives a
version older than one it already has.
"""

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("stockwire.realtime")

_event_keys = itertools.count()


class Outbox:
    __slots__ = ("_drainer", "_pending", "_send", "_versions", "closed")

    def __init__(self, send: Callable[[str], Awaitable[None]]):
        self._send = send
        # item id -> newest version queued or sent; its keys are the items this socket watches.
        self._versions: dict[int, int] = {}
        # item id (or a unique key for one-off events) -> frame not sent yet, in arrival order.
        self._pending: dict[object, str] = {}
        self._drainer: asyncio.Task | None = None
        self.closed = False

    @property
    def watched(self):
        return self._versions.keys()

    def watch(self, item_id: int) -> None:
        self._versions.setdefault(item_id, 0)

    def unwatch(self, item_id: int) -> None:
        self._versions.pop(item_id, None)
        self._pending.pop(item_id, None)

    def push_state(self, item_id: int, version: int, frame: str) -> None:
        """Queue an item's state if the socket watches the item and the version is newer."""
        held = self._versions.get(item_id)
        if held is None or version <= held:
            return
        self._versions[item_id] = version
        # Replacing a frame that is still waiting is the coalescing: only the newest goes out.
        self._pending[item_id] = frame
        self._wake()

    def push_event(self, frame: str) -> None:
        """Queue a one-off message (an order confirmation) that must not be coalesced."""
        self._pending[("event", next(_event_keys))] = frame
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        if self._drainer is not None:
            self._drainer.cancel()

    def _wake(self) -> None:
        if self._drainer is None and not self.closed:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending:
                # One at a time, so an unwatch or a newer version still counts while we wait.
                frame = self._pending.pop(next(iter(self._pending)))
                await self._send(frame)
        except Exception:
            # The socket went away while we wrote to it; its consumer cleans up on disconnect.
            logger.debug("dropping frames for a closed socket", exc_info=True)
            self.close()
        finally:
            self._drainer = None
