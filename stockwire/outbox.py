"""What is on its way to one socket.

Stock is state, not a stream: for each item only the newest version waits to be sent, so a
slow socket holds at most one frame per item, never slows the others, and never receives a
version older than one it already has. Presence counts are state too, ordered by their seq
and coalesced the same way, apart from the item's stock.

Messages are ASGI `websocket.send` events built once per change and shared by every socket
they go to; nothing is encoded or allocated per socket on the way out. Where the server
offers a frame writer (stockwire/uvicorn.py), a fanned-out frame is written to the socket
directly; one-off messages, and every message under any other server, are sent the ASGI way.

Nothing is sent before the socket is open. A socket joins its topics before it is accepted,
so that nothing published after its greeting is missed; what arrives meanwhile waits and
goes after the greeting (a send before the accept is an ASGI error, and would cost the
socket every later message).

The server ends a socket through its Outbox too (its user signed out): the close replaces
whatever waits, and nothing is queued after it.
"""

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable

from .metrics import MESSAGES_COALESCED

logger = logging.getLogger("stockwire.outbox")

# Keys of one-off events in an Outbox's pending dict: 0.5, 1.5, ... never equal an item id
# (a positive int, the key of its stock) or minus one (the key of its presence count).
_event_keys = itertools.count(0.5)

Send = Callable[[dict], Awaitable[None]]


# The ASGI scope extension of a server with a frame writer (stockwire/uvicorn.py): a plain
# function that writes an event's frame to the socket at once, or answers False when it
# cannot; the caller then sends the event the ASGI way.
WRITE_FRAME_EXTENSION = "stockwire.write_frame"

WriteFrame = Callable[[dict], bool]


def text_event(frame: str) -> dict:
    """The ASGI event that sends `frame`; one can go to any number of sockets."""
    return {"type": "websocket.send", "text": frame}


def frame_writer(scope) -> WriteFrame | None:
    """The server's frame writer for this socket, if it offers one."""
    extension = (scope.get("extensions") or {}).get(WRITE_FRAME_EXTENSION)
    return extension["write"] if extension else None


class Outbox:
    __slots__ = (
        "_drainer",
        "_pending",
        "_send",
        "_seqs",
        "_versions",
        "_write_frame",
        "closed",
        "opened",
        "session",
    )

    def __init__(
        self, send: Send, write_frame: WriteFrame | None = None, *, session: str | None = None
    ):
        self._send = send
        self._write_frame = write_frame
        # The digest of the session a cookie socket opened with (stockwire.auth.SESSION): a
        # logout of that session ends it. None for a token socket or a visitor.
        self.session = session
        # item id -> newest version queued or sent; its keys are the items this socket watches.
        self._versions: dict[int, int] = {}
        # item id -> newest presence seq queued or sent.
        self._seqs: dict[int, int] = {}
        # Events not sent yet, in arrival order, by key: the item id for its stock, minus the
        # item id for its presence count (ids are positive), a unique key for one-off events.
        self._pending: dict[object, dict] = {}
        self._drainer: asyncio.Task | None = None
        self.opened = False
        self.closed = False

    @property
    def watched(self):
        return self._versions.keys()

    def watch(self, item_id: int) -> None:
        self._versions.setdefault(item_id, 0)

    def unwatch(self, item_id: int) -> None:
        self._versions.pop(item_id, None)
        self._pending.pop(item_id, None)
        if self._seqs.pop(item_id, None) is not None:
            self._pending.pop(-item_id, None)

    def push_state(self, item_id: int, version: int, event: dict) -> None:
        """Queue an item's state if the socket watches the item and the version is newer."""
        held = self._versions.get(item_id)
        if held is None or version <= held:
            return
        self._versions[item_id] = version
        # Replacing an event that is still waiting is the coalescing: only the newest goes out.
        if item_id in self._pending:
            MESSAGES_COALESCED.inc()
        self._queue(item_id, event)

    def push_presence(self, item_id: int, seq: int, event: dict) -> None:
        """Queue an item's presence count if the socket watches the item and the seq is newer."""
        if item_id not in self._versions or seq <= self._seqs.get(item_id, 0):
            return
        self._seqs[item_id] = seq
        self._queue(-item_id, event)

    def push_event(self, event: dict) -> None:
        """Queue a one-off message (an order confirmation, a reply) that is never coalesced.

        One-off messages take the ASGI path even under Stockwire's server: the frame writer
        pays only in a fan-out, and the hello right after the handshake stays on the path
        every ASGI server takes.
        """
        if self.closed:
            return
        self._pending[next(_event_keys)] = event
        self._wake()

    def open(self) -> None:
        """Start sending what waited, once the socket is accepted and greeted."""
        self.opened = True
        self._wake()

    def close(self) -> None:
        """The socket is closing (its consumer says so): send nothing more."""
        self.closed = True
        self._pending.clear()
        if self._drainer is not None:
            self._drainer.cancel()

    def end(self, code: int) -> None:
        """Close the socket with `code` from the server's side: what waits is dropped, and
        only a frame being written goes before the close. A socket not open yet is closed
        right after its greeting. Its consumer then disconnects as for any close."""
        if self.closed:
            return
        self.closed = True
        self._pending.clear()
        self._pending[next(_event_keys)] = {"type": "websocket.close", "code": int(code)}
        self._wake()

    def _queue(self, key, event: dict) -> None:
        if self.closed:
            return
        # Fastest: nothing waits before it, and the server writes the frame at once. This is
        # the path of nearly every fanned-out delivery, and it makes no coroutine at all.
        if (
            self._drainer is None
            and self.opened
            and not self._pending
            and self._write_frame is not None
            and self._write_frame(event)
        ):
            return
        self._pending[key] = event
        self._wake()

    def _wake(self) -> None:
        if self._drainer is not None or not self.opened:
            return
        # Send right now, in the caller's turn of the event loop: a socket that can take the
        # frame (nearly all of them) costs no task. Only one whose client has stopped reading
        # makes the drain wait, and that wait continues in a task of its own.
        drain = self._drain()
        try:
            waiting_on = drain.send(None)
        except StopIteration:
            return
        self._drainer = asyncio.get_running_loop().create_task(_finish(drain, waiting_on))

    async def _drain(self) -> None:
        try:
            while self._pending:
                # One at a time, so an unwatch or a newer version still counts while we wait.
                event = self._pending.pop(next(iter(self._pending)))
                await self._send(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The socket went away while we wrote to it; its consumer cleans up on disconnect.
            logger.debug("dropping frames for a closed socket", exc_info=True)
            self.close()
        finally:
            self._drainer = None


async def _finish(coroutine, waiting_on) -> None:
    """Run the rest of a coroutine that was started by hand and is now waiting on a future.

    Python 3.12's asyncio.eager_task_factory does this for every task; Stockwire supports 3.11.
    """
    try:
        while True:
            if waiting_on is None:
                await asyncio.sleep(0)  # a bare yield: give the loop one turn
            else:
                # Wait without awaiting the future itself: the coroutine it belongs to reads
                # its outcome when resumed.
                await asyncio.wait((waiting_on,))
            try:
                waiting_on = coroutine.send(None)
            except StopIteration:
                return
    except asyncio.CancelledError:
        coroutine.close()
        raise
