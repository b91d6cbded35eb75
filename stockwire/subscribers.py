"""This process's sockets by topic, and what each message type does for them.

The hub hands every message from the channel layer to the handler its `type` names; the
resync and presence hand theirs here too. A handler builds the ASGI event once and pushes it
to each local socket's Outbox: nothing is encoded, queried or allocated per socket.
"""

import asyncio
import logging
import math
import time

from . import messages, topics
from .metrics import FANOUT_SECONDS, MESSAGES_FANNED_OUT, REFUSED_SOCKETS
from .outbox import Outbox, text_event
from .protocol import CloseCode

logger = logging.getLogger("stockwire.subscribers")

STOCK_FANNED_OUT = MESSAGES_FANNED_OUT.labels("stock")
EVENTS_FANNED_OUT = MESSAGES_FANNED_OUT.labels("event")
PRESENCE_FANNED_OUT = MESSAGES_FANNED_OUT.labels("presence")
SIGNED_OUT = REFUSED_SOCKETS.labels("signed_out")

# A process that falls behind (its changes arrive late: a flash sale sells one item hundreds
# of times a second while its loop also answers the buyers) spaces out each item's fan-outs:
# then only the newest of the changes that came meanwhile goes, when the pause is up. Stock is
# state: a watcher needs the newest level, not every step to it, and a fan-out to thousands of
# sockets is the loop's largest cost. The pause is FANOUT_SPACING times what the item's last
# fan-out took, so a hot item's fan-outs take at most a twentieth of a busy loop, within
# [MIN_FANOUT_PAUSE, MAX_FANOUT_PAUSE]: at most 20 fan-outs a second, and never more than a
# quarter of a second between them. A change that arrives on time goes out at once, however
# soon after the last; a change is late past 20 ms, longer than a process that keeps up
# takes to pass one on.
FANOUT_SPACING = 19
MIN_FANOUT_PAUSE = 0.05
MAX_FANOUT_PAUSE = 0.25
LATE_SECONDS = 0.02


class Subscribers:
    def __init__(self):
        self._topics: dict[str, set[Outbox]] = {}
        # item id -> newest version fanned out here, or waiting to be.
        self._latest: dict[int, int] = {}
        # item id -> when (the loop's clock) a late change of its stock may next be fanned
        # out, and the newest change that came before then, waiting for it.
        self._next_late_fan_out: dict[int, float] = {}
        self._waiting: dict[int, dict] = {}
        # item id -> (seq, event) of the newest presence count of a watched item.
        self._counts: dict[int, tuple[int, dict]] = {}
        self.handlers = {
            messages.STOCK_CHANGED: self.stock_changed,
            messages.LEGACY_UPDATE_COUNT: self.legacy_update_count,
            messages.USER_MESSAGE: self.user_message,
            messages.PRESENCE_COUNT: self.presence_count,
            messages.USER_SIGNED_OUT: self.user_signed_out,
        }

    def add(self, topic: str, outbox: Outbox) -> bool:
        """Add a socket to a topic; True if it is the topic's first here."""
        members = self._topics.setdefault(topic, set())
        members.add(outbox)
        return len(members) == 1

    def remove(self, topic: str, outbox: Outbox) -> bool:
        """Take a socket off a topic; True if it was the topic's last here."""
        members = self._topics.get(topic)
        if members is None:
            return False
        members.discard(outbox)
        if members:
            return False
        del self._topics[topic]
        item = topics.item_of(topic)
        if item is not None:
            self._latest.pop(item, None)
            self._counts.pop(item, None)
            self._next_late_fan_out.pop(item, None)
            self._waiting.pop(item, None)
        return True

    def has(self, topic: str) -> bool:
        return topic in self._topics

    def watched_items(self) -> list[int]:
        return [item for topic in self._topics if (item := topics.item_of(topic)) is not None]

    def is_newer(self, item_id: int, version: int) -> bool:
        return version > self._latest.get(item_id, 0)

    def send_presence(self, item_id: int, outbox: Outbox) -> bool:
        """Give a new subscriber the item's count; False if this process has none yet."""
        count = self._counts.get(item_id)
        if count is None:
            return False
        outbox.push_presence(item_id, *count)
        return True

    def dispatch(self, message: dict) -> None:
        """Run the handler of the message's type; an unknown type is a bug of the sender."""
        self.handlers[message["type"]](message)

    def stock_changed(self, message: dict) -> None:
        item_id, version = message["item"], message["version"]
        if topics.item_topic(item_id) not in self._topics:
            return
        if version > self._latest.get(item_id, 0):
            self._latest[item_id] = version
        waiting = self._waiting.get(item_id)
        if waiting is not None:
            if version > waiting["version"]:
                self._waiting[item_id] = message
            return
        loop = asyncio.get_running_loop()
        due = self._next_late_fan_out.get(item_id, -math.inf)
        late = time.time() - message.get("published_at", math.inf) > LATE_SECONDS
        if late and loop.time() < due:
            self._waiting[item_id] = message
            loop.call_at(due, self._fan_out_waiting, item_id)
            return
        self._fan_out_stock(message)

    def _fan_out_waiting(self, item_id: int) -> None:
        message = self._waiting.pop(item_id, None)
        if message is not None:
            self._fan_out_stock(message)

    def _fan_out_stock(self, message: dict) -> None:
        item_id, version = message["item"], message["version"]
        members = self._topics.get(topics.item_topic(item_id))
        if not members:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        event = text_event(message["frame"])
        for outbox in members:
            outbox.push_state(item_id, version, event)
        ended = loop.time()
        pause = min(max(FANOUT_SPACING * (ended - started), MIN_FANOUT_PAUSE), MAX_FANOUT_PAUSE)
        self._next_late_fan_out[item_id] = started + pause
        STOCK_FANNED_OUT.inc(len(members))
        if message.get("published_at"):
            FANOUT_SECONDS.observe(time.time() - message["published_at"])

    def legacy_update_count(self, message: dict) -> None:
        self._fan_out_event(topics.LEGACY, message)

    def user_message(self, message: dict) -> None:
        # A user's legacy sockets are on the user's topic only to be signed out: the legacy
        # protocol has no user messages.
        members = self._topics.get(topics.user_topic(message["user"]))
        legacy = self._topics.get(topics.LEGACY)
        if members and legacy:
            members = members - legacy
        self._fan_out(members, message)

    def user_signed_out(self, message: dict) -> None:
        """Close the user's sockets of the session that logged out, or all of them, with 4401:
        the client must log in again."""
        session = message["session"]
        ending = [
            outbox
            for outbox in self._topics.get(topics.user_topic(message["user"]), ())
            if session is None or outbox.session == session
        ]
        for outbox in ending:
            outbox.end(CloseCode.UNAUTHORIZED)
        if ending:
            SIGNED_OUT.inc(len(ending))
            logger.info(
                "closing %d sockets of user %s: %s",
                len(ending),
                message["user"],
                "their session logged out" if session else "deactivated or deleted",
            )

    def presence_count(self, message: dict) -> None:
        item_id, seq = message["item"], message["seq"]
        members = self._topics.get(topics.item_topic(item_id))
        if not members:
            return
        count = self._counts.get(item_id)
        # Every local subscriber already has the count held here (or it is on its way).
        if count is not None and seq <= count[0]:
            return
        event = text_event(message["frame"])
        self._counts[item_id] = (seq, event)
        for outbox in members:
            outbox.push_presence(item_id, seq, event)
        PRESENCE_FANNED_OUT.inc(len(members))

    def _fan_out_event(self, topic: str, message: dict) -> None:
        self._fan_out(self._topics.get(topic), message)

    def _fan_out(self, members: set[Outbox] | None, message: dict) -> None:
        if not members:
            return
        event = text_event(message["frame"])
        for outbox in members:
            outbox.push_event(event)
        EVENTS_FANNED_OUT.inc(len(members))
