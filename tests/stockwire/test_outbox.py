import asyncio

from stockwire import outbox as outbox_module
from stockwire.outbox import Outbox, text_event
from tests.stockwire.conftest import opened_outbox


class Socket:
    """A fake ASGI send whose writes can be held up, like a slow client."""

    def __init__(self):
        self.frames: list[str] = []
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, event: dict) -> None:
        await self.open.wait()
        self.frames.append(event["text"])


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_nothing_is_sent_before_the_socket_is_open_and_then_nothing_is_lost():
    server = Server()
    outbox = Outbox(server.socket.send, server.write_frame)
    outbox.watch(1)
    outbox.push_event(text_event("order"))
    outbox.push_state(1, 2, text_event("v2"))
    await settle()
    assert server.written == [] and server.socket.frames == []

    outbox.open()
    await settle()
    assert server.socket.frames == ["order", "v2"]


async def test_only_newer_versions_of_a_watched_item_are_sent():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)

    outbox.push_state(1, 3, text_event("v3"))
    outbox.push_state(1, 2, text_event("v2"))  # late
    outbox.push_state(1, 3, text_event("v3 again"))  # repeated
    outbox.push_state(2, 9, text_event("other item"))  # not watched
    await settle()

    assert socket.frames == ["v3"]


async def test_a_slow_socket_gets_only_the_newest_version_once_it_catches_up():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    socket.open.clear()
    outbox.push_state(1, 1, text_event("v1"))
    await settle()  # v1 is on its way and the socket is stuck

    for version in range(2, 101):
        outbox.push_state(1, version, text_event(f"v{version}"))
    await settle()
    socket.open.set()
    await settle()

    assert socket.frames == ["v1", "v100"]


async def test_a_slow_socket_does_not_hold_up_the_others():
    slow, fast = Socket(), Socket()
    outboxes = [opened_outbox(slow.send), opened_outbox(fast.send)]
    slow.open.clear()
    for outbox in outboxes:
        outbox.watch(1)
        outbox.push_state(1, 2, text_event("v2"))
    await settle()

    assert (slow.frames, fast.frames) == ([], ["v2"])


async def test_events_are_never_coalesced():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    socket.open.clear()
    outbox.push_event(text_event("order 1"))
    outbox.push_event(text_event("order 2"))
    await settle()
    socket.open.set()
    await settle()

    assert socket.frames == ["order 1", "order 2"]


async def test_unwatching_drops_a_frame_that_was_still_waiting():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    outbox.watch(2)
    socket.open.clear()
    outbox.push_event(text_event("first"))
    outbox.push_state(1, 2, text_event("item 1"))
    outbox.push_state(2, 2, text_event("item 2"))
    await settle()
    outbox.unwatch(1)
    socket.open.set()
    await settle()

    assert socket.frames == ["first", "item 2"]


async def test_a_closed_outbox_sends_nothing_more():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    outbox.close()
    outbox.push_state(1, 2, text_event("v2"))
    await settle()
    assert socket.frames == []


async def test_a_socket_that_can_take_a_frame_gets_it_at_once_without_a_task():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    outbox.push_state(1, 2, text_event("v2"))
    assert socket.frames == ["v2"]  # no await in between: sent in the caller's turn


async def test_closing_a_stuck_outbox_abandons_its_frames():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    socket.open.clear()
    outbox.push_state(1, 2, text_event("v2"))
    outbox.push_state(1, 3, text_event("v3"))
    await settle()
    outbox.close()
    await settle()
    socket.open.set()
    await settle()
    assert socket.frames == []


async def test_an_event_and_the_stock_of_an_item_with_the_same_number_both_go_out():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    socket.open.clear()
    outbox.push_event(text_event("blocked"))
    await settle()
    # One-off events are numbered in their own sequence; the items take the next numbers.
    items = range(int(next(outbox_module._event_keys)), int(next(outbox_module._event_keys)) + 9)
    events = [f"event {n}" for n in range(5)]
    for event in events:
        outbox.push_event(text_event(event))
    for item in items:
        outbox.watch(item)
        outbox.push_state(item, 2, text_event(f"item {item}"))
    socket.open.set()
    await settle()

    assert socket.frames == ["blocked", *events, *(f"item {item}" for item in items)]


# Presence counts: state like stock, ordered by seq, kept apart from the item's stock.


async def test_the_outbox_drops_a_count_whose_seq_is_not_newer():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    outbox.push_presence(1, 5, text_event("seq 5"))
    outbox.push_presence(1, 3, text_event("seq 3"))  # late
    outbox.push_presence(1, 5, text_event("seq 5 again"))  # repeated
    outbox.push_presence(2, 9, text_event("other item"))  # not watched
    await settle()
    assert socket.frames == ["seq 5"]


async def test_a_slow_socket_gets_only_the_newest_count_and_its_stock_apart():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    socket.open.clear()
    outbox.push_presence(1, 1, text_event("count 1"))
    await settle()  # on its way; the socket is stuck
    outbox.push_state(1, 2, text_event("stock v2"))
    for seq in range(2, 50):
        outbox.push_presence(1, seq, text_event(f"count {seq}"))
    outbox.push_event(text_event("order"))
    socket.open.set()
    await settle()
    assert socket.frames == ["count 1", "stock v2", "count 49", "order"]


async def test_unwatching_drops_a_count_still_waiting():
    socket = Socket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    socket.open.clear()
    outbox.push_event(text_event("first"))
    outbox.push_presence(1, 4, text_event("count"))
    await settle()
    outbox.unwatch(1)
    socket.open.set()
    await settle()
    assert socket.frames == ["first"]


class Server:
    """A socket with the server's frame writer (stockwire/uvicorn.py), which can refuse."""

    def __init__(self):
        self.socket = Socket()
        self.written: list[str] = []
        self.writable = True

    def write_frame(self, event: dict) -> bool:
        if self.writable:
            self.written.append(event["text"])
        return self.writable

    def outbox(self):
        return opened_outbox(self.socket.send, self.write_frame)


async def test_a_server_frame_writer_takes_a_fanned_out_frame_instead_of_the_asgi_send():
    server = Server()
    outbox = server.outbox()
    outbox.watch(1)
    outbox.push_state(1, 2, text_event("v2"))
    assert server.written == ["v2"]
    assert server.socket.frames == []


async def test_when_the_frame_writer_refuses_the_frame_goes_the_asgi_way_in_order():
    server = Server()
    outbox = server.outbox()
    outbox.watch(1)
    server.writable = False
    server.socket.open.clear()  # like a paused socket: uvicorn's send waits
    outbox.push_state(1, 2, text_event("v2"))
    server.writable = True
    outbox.push_event(text_event("order"))  # one-off messages go the ASGI way, in order
    await settle()
    server.socket.open.set()
    await settle()
    assert server.written == []
    assert server.socket.frames == ["v2", "order"]
    outbox.push_state(1, 3, text_event("v3"))  # nothing waits any more: the writer again
    assert server.written == ["v3"]


async def test_a_closed_outbox_writes_nothing_through_the_frame_writer():
    server = Server()
    outbox = server.outbox()
    outbox.watch(1)
    outbox.close()
    outbox.push_state(1, 2, text_event("v2"))
    assert server.written == []


async def test_one_off_messages_go_the_asgi_way_even_with_a_frame_writer():
    server = Server()
    outbox = server.outbox()
    outbox.push_event(text_event("hello"))
    assert server.written == [] and server.socket.frames == ["hello"]


# Ending a socket from the server's side (its user signed out)


class RecordingSocket(Socket):
    """A Socket that also records the close it is sent."""

    async def send(self, event: dict) -> None:
        await self.open.wait()
        self.frames.append(event.get("text") or f"close {event['code']}")


async def test_ending_drops_what_waits_and_closes_right_after_the_frame_being_written():
    socket = RecordingSocket()
    outbox = opened_outbox(socket.send)
    outbox.watch(1)
    socket.open.clear()
    outbox.push_state(1, 1, text_event("v1"))
    await settle()  # v1 is on its way and the socket is stuck
    outbox.push_state(1, 2, text_event("v2"))
    outbox.push_event(text_event("order"))

    outbox.end(4401)
    outbox.push_state(1, 3, text_event("v3"))
    outbox.push_event(text_event("pong"))
    socket.open.set()
    await settle()

    assert socket.frames == ["v1", "close 4401"]
    assert outbox.closed


async def test_an_outbox_ended_before_its_socket_opens_closes_it_once_open():
    socket = RecordingSocket()
    outbox = Outbox(socket.send)
    outbox.push_event(text_event("order"))
    outbox.end(4401)
    await settle()
    assert socket.frames == []

    outbox.open()
    await settle()
    assert socket.frames == ["close 4401"]
