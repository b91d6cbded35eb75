"""What a server process runs for its sockets, made on first use in its event loop.

One hub (layer memberships), one set of local subscribers, presence counts and the resync,
per event loop: a server process has one; each test has its own.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from channels.layers import get_channel_layer

from .hub import Hub
from .presence import Presence
from .resync import Resync
from .subscribers import Subscribers


@dataclass(eq=False)
class Delivery:
    subscribers: Subscribers
    hub: Hub
    presence: Presence
    resync_task: asyncio.Task
    # user id -> this process's open sockets of the user (STOCKWIRE["MAX_SOCKETS_PER_USER"]).
    user_sockets: Counter[int] = field(default_factory=Counter)

    async def close(self) -> None:
        """Stop every task of this loop's delivery (tests do; a server process just exits)."""
        self.resync_task.cancel()
        await asyncio.gather(self.resync_task, return_exceptions=True)
        await self.hub.close()
        await self.presence.close()
        _deliveries.pop(asyncio.get_running_loop(), None)


_deliveries: dict[asyncio.AbstractEventLoop, Delivery] = {}


def delivery() -> Delivery:
    """The delivery of the running event loop."""
    loop = asyncio.get_running_loop()
    found = _deliveries.get(loop)
    if found is None:
        layer = get_channel_layer()
        subscribers = Subscribers()
        found = _deliveries[loop] = Delivery(
            subscribers=subscribers,
            hub=Hub(layer, subscribers),
            presence=Presence(layer, subscribers),
            resync_task=loop.create_task(Resync(subscribers).run()),
        )
    return found


def current_delivery() -> Delivery | None:
    """The running loop's delivery if it has one (tests and metrics look; nothing is made)."""
    return _deliveries.get(asyncio.get_running_loop())
