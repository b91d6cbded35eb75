"""What a server process runs for its sockets, holds and alerts, made on first use in its
event loop.

One hub (layer memberships), one set of local subscribers, presence counts, the resync, the
count of each user's sockets and the sweep (expired holds, alert emails), per event loop: a
server process has one; each test has its own.
"""

import asyncio
import contextvars
from dataclasses import dataclass, field

from channels.layers import get_channel_layer

from .hub import Hub
from .presence import Presence
from .publish import loop_of_this_thread
from .resync import Resync
from .subscribers import Subscribers
from .sweep import Sweep
from .user_sockets import UserSockets


@dataclass(eq=False)
class Delivery:
    subscribers: Subscribers
    hub: Hub
    presence: Presence
    resync_task: asyncio.Task
    sweep_task: asyncio.Task
    # Each user's open sockets over every process (STOCKWIRE["MAX_SOCKETS_PER_USER"]).
    user_sockets: UserSockets = field(default_factory=UserSockets)

    async def close(self) -> None:
        """Stop every task of this loop's delivery (tests do; a server process just exits)."""
        self.resync_task.cancel()
        self.sweep_task.cancel()
        await asyncio.gather(self.resync_task, self.sweep_task, return_exceptions=True)
        await self.hub.close()
        await self.presence.close()
        await self.user_sockets.close()
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
            sweep_task=loop.create_task(Sweep().run()),
        )
    return found


def current_delivery() -> Delivery | None:
    """The running loop's delivery if it has one (tests and metrics look; nothing is made)."""
    return _deliveries.get(asyncio.get_running_loop())


def start_in_this_process() -> None:
    """From sync code in a server: start this process's delivery, sockets or none, so its
    sweep runs (a hold placed here expires on time, an alert fired here is emailed) even
    where no other process runs."""
    loop = loop_of_this_thread()
    if loop is not None:
        # In a context of its own: this request's (its sync thread) ends before the sweep does.
        loop.call_soon_threadsafe(delivery, context=contextvars.Context())
