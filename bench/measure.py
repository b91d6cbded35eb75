"""The measurements on a running set-up: open N subscribers, fan-out latency, sustained load.

Latency of a subscriber for a change = from writing the purchase request to that subscriber
holding the new version (for legacy clients: the GET that brings it back has arrived).
"""

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import orjson

from . import procs
from .client import HttpConnection, connect_library_ws, connect_ws

HOST = "127.0.0.1"
ITEM = 1
PASSWORD = "stockwire-demo"
PURCHASE = orjson.dumps({"quantity": 1})
# How often the settle loop checks whether every subscriber holds the final version.
SETTLE_POLL_SECONDS = 0.05
# Attempts to open one socket before it counts as failed (refused connections under a burst).
OPEN_ATTEMPTS = 5
# Sockets per server process opened and closed before the memory baseline (warm_up).
WARM_UP_SOCKETS = 20


class Tracker:
    """Arrival times of the version the current change produces, one per subscriber."""

    def __init__(self):
        self.target = 1 << 62  # nothing armed
        self.arrivals: list[float] = []
        self.want = 0
        self.done = asyncio.Event()

    def arm(self, target: int, want: int) -> None:
        self.target, self.want, self.arrivals = target, want, []
        self.done.clear()

    def arrived(self, t: float) -> None:
        self.arrivals.append(t)
        if len(self.arrivals) >= self.want:
            self.done.set()


class Subscriber:
    """A /ws/stock/ client: holds the newest version of the item it watches."""

    __slots__ = ("frames", "last_t", "ready", "received", "tracker", "version", "ws")

    def __init__(self, tracker: Tracker):
        self.tracker = tracker
        self.version = 0
        self.received = 0  # stock messages that brought a newer version, snapshot excluded
        self.frames = 0
        self.last_t = 0.0
        self.ready = asyncio.get_running_loop().create_future()
        self.ws = None

    def path(self, base: str, token: str) -> str:
        return f"{base}?token={token}"

    def on_open(self) -> None:
        self.ws.send_text(f'{{"action":"subscribe","items":[{ITEM}]}}')

    def on_text(self, payload: bytes) -> None:
        t = time.perf_counter()
        self.frames += 1
        message = orjson.loads(payload)
        if message.get("type") == "stock" and message["item"] == ITEM:
            self.hold(message["version"], t)

    def hold(self, version: int, t: float) -> None:
        previous = self.version
        if version <= previous:
            return
        self.version = version
        if not self.ready.done():  # the snapshot
            self.ready.set_result(None)
            return
        self.received += 1
        self.last_t = t
        if previous < self.tracker.target <= version:
            self.tracker.arrived(t)

    def on_close(self, _ws) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed {_ws.close_code}"))
            self.ready.exception()  # retrieved here: a retry may never await this attempt


class LegacySubscriber(Subscriber):
    """A /notification/count client: on UPDATE_COUNT it asks GET /api/items/<id>.

    While a GET is on its way, further notices only mark it dirty: one more GET follows, as
    a sensible legacy client would do, rather than one GET per notice.
    """

    __slots__ = ("dirty", "fetching", "gets", "http")

    def __init__(self, tracker: Tracker, http: HttpConnection):
        super().__init__(tracker)
        self.http, self.fetching, self.dirty, self.gets = http, False, False, 0

    def on_open(self) -> None:
        pass  # the server greets with {"grouped": ...}; the first GET is the snapshot

    def on_text(self, payload: bytes) -> None:
        self.frames += 1
        message = orjson.loads(payload)
        if message.get("item") == ITEM or "grouped" in message:
            self.refetch()

    def refetch(self) -> None:
        if self.fetching:
            self.dirty = True
            return
        self.fetching = True
        asyncio.get_running_loop().create_task(self._fetch())

    async def _fetch(self) -> None:
        try:
            while True:
                self.dirty = False
                _status, body, _sent = await self.http.request("GET", f"/api/items/{ITEM}")
                self.gets += 1
                self.hold(orjson.loads(body)["version"], time.perf_counter())
                if not self.dirty:
                    break
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(error)
                self.ready.exception()
        finally:
            self.fetching = False


@dataclass
class Shop:
    """HTTP access to the set-up: tokens, the item's version, purchases alternating ports."""

    ports: list[int]
    tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.connections = [HttpConnection(HOST, port) for port in self.ports]

    async def call(self, method, path, body=b"", user=None, port_index=0):
        auth = f"Authorization: Bearer {self.tokens[user]}\r\n" if user else ""
        connection = self.connections[port_index % len(self.connections)]
        return await connection.request(method, path, body, auth)

    async def login(self, *users: str) -> None:
        for user in users:
            body = orjson.dumps({"username": user, "password": PASSWORD})
            status, answer, _ = await self.call("POST", "/api/auth/token", body)
            assert status == 200, answer
            self.tokens[user] = orjson.loads(answer)["access"]

    async def version(self) -> int:
        status, answer, _ = await self.call("GET", f"/api/items/{ITEM}")
        assert status == 200, answer
        return orjson.loads(answer)["version"]

    async def restock(self, quantity: int) -> None:
        body = orjson.dumps({"quantity": quantity})
        status, answer, _ = await self.call("POST", f"/api/items/{ITEM}/restock", body, "staff")
        assert status == 200, answer

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


async def open_subscribers(site, shop: Shop, n: int, client: str, batch: int) -> dict:
    """Open n sockets, batch at a time, spread evenly over the set-up's ports; all subscribed."""
    tracker = Tracker()
    token = shop.tokens["alice"]
    legacy = site.setup == "legacy-refetch"
    connect = connect_library_ws if client == "websockets" else connect_ws
    failures, retries = 0, 0

    async def open_one(i: int):
        nonlocal retries
        ws_port = site.ws_ports[i % len(site.ws_ports)]
        for attempt in range(OPEN_ATTEMPTS):
            if legacy:
                http_port = site.http_ports[i % len(site.http_ports)]
                sub = LegacySubscriber(tracker, HttpConnection(HOST, http_port))
            else:
                sub = Subscriber(tracker)
            try:
                sub.ws = await connect(HOST, ws_port, sub.path(site.ws_path, token),
                                       sub.on_text, sub.on_close)  # fmt: skip
                sub.on_open()
                await asyncio.wait_for(sub.ready, 30)
                return sub
            except Exception:  # refused, reset or timed out under a burst: retry
                retries += 1
                if sub.ws is not None:
                    sub.ws.abort()
                await asyncio.sleep(0.2 * (attempt + 1))
        return None

    subscribers = []
    started = time.perf_counter()
    for first in range(0, n, batch):
        opened = await asyncio.gather(*(open_one(i) for i in range(first, min(n, first + batch))))
        subscribers.extend(sub for sub in opened if sub is not None)
        failures += sum(sub is None for sub in opened)
    return {
        "subscribers": subscribers,
        "tracker": tracker,
        "open_seconds": time.perf_counter() - started,
        "open_failures": failures,
        "open_retries": retries - failures * OPEN_ATTEMPTS,
    }


async def warm_up(site, shop: Shop, client: str) -> None:
    """Open and close a few sockets per server process before memory is measured.

    What a process's first socket brings once (the hub and its channel-layer connection,
    database connections, code run the first time) is not a cost per socket.
    """
    opened = await open_subscribers(site, shop, WARM_UP_SOCKETS * len(site.ws_ports), client,
                                    batch=WARM_UP_SOCKETS)  # fmt: skip
    for sub in opened["subscribers"]:
        sub.ws.close()
    await asyncio.sleep(1.0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fan_out(shop: Shop, subscribers, tracker: Tracker, changes: int, wait: float) -> dict:
    """Sequential purchases; each waits until every subscriber holds its version, or timeout."""
    latencies, per_change, purchase_rtts, errors = [], [], [], []
    version = await shop.version()
    for k in range(changes):
        target = version + 1
        tracker.arm(target, len(subscribers))
        status, answer, sent = await shop.call("POST", f"/api/items/{ITEM}/purchase", PURCHASE,
                                               "bob", port_index=k)  # fmt: skip
        purchase_rtts.append(time.perf_counter() - sent)
        if status != 201:
            errors.append(f"purchase {k}: {status} {answer[:200]!r}")
            break
        got = orjson.loads(answer)["item"]["version"]
        if got != target:
            errors.append(f"purchase {k}: version {got}, expected {target}")
            target = got
        try:
            await asyncio.wait_for(tracker.done.wait(), wait)
        except TimeoutError:
            pass
        arrivals = [t - sent for t in tracker.arrivals]
        latencies.extend(arrivals)
        per_change.append({
            "version": target, "missed": len(subscribers) - len(arrivals),
            "p50_ms": percentile(arrivals, 0.5) * 1e3, "max_ms": max(arrivals, default=0) * 1e3,
        })  # fmt: skip
        version = target
    tracker.arm(1 << 62, 0)
    return {
        "changes": len(per_change),
        "p50_ms": percentile(latencies, 0.50) * 1e3,
        "p90_ms": percentile(latencies, 0.90) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "max_ms": max(latencies, default=float("nan")) * 1e3,
        "mean_ms": (statistics.fmean(latencies) * 1e3) if latencies else float("nan"),
        "missed": sum(c["missed"] for c in per_change),
        "purchase_rtt_p50_ms": percentile(purchase_rtts, 0.5) * 1e3,
        "per_change": per_change,
        "errors": errors,
    }


async def sustained(shop: Shop, subscribers, duration: float, purchasers: int,
                    settle: float) -> dict:  # fmt: skip
    """Purchases back to back for `duration`; then wait up to `settle` for every subscriber."""
    start_version = await shop.version()
    for sub in subscribers:
        sub.received = 0
    purchases, failures = 0, []
    extra = [Shop(shop.ports, shop.tokens) for _ in range(purchasers)]
    started = time.perf_counter()
    deadline = started + duration

    async def fire(client: Shop, index: int) -> None:
        nonlocal purchases
        k = index
        while time.perf_counter() < deadline:
            status, answer, _ = await client.call("POST", f"/api/items/{ITEM}/purchase", PURCHASE,
                                                  "bob", port_index=k)  # fmt: skip
            k += 1
            if status == 201:
                purchases += 1
            elif len(failures) < 20:
                failures.append(f"{status} {answer[:200]!r}")

    await asyncio.gather(*(fire(client, i) for i, client in enumerate(extra)))
    fired = time.perf_counter()
    for client in extra:
        client.close()
    final = await shop.version()
    settle_deadline = fired + settle
    while time.perf_counter() < settle_deadline:
        if all(sub.version == final for sub in subscribers):
            break
        await asyncio.sleep(SETTLE_POLL_SECONDS)
    settled = time.perf_counter()
    changes = final - start_version
    deliveries = sum(sub.received for sub in subscribers)
    last = max((sub.last_t for sub in subscribers), default=fired)
    return {
        "seconds": fired - started,
        "purchases": purchases,
        "changes": changes,
        "changes_per_s": changes / (fired - started),
        "deliveries": deliveries,
        # Messages at the clients over the whole window until the last one arrived.
        "deliveries_per_s": deliveries / max(last - started, fired - started),
        "delivery_window_s": max(last, fired) - started,
        "missed": changes * len(subscribers) - deliveries,
        "stale": sum(sub.version != final for sub in subscribers),
        "settle_s": settled - fired,
        "failures": failures,
    }


def resources(site) -> dict:
    """A snapshot of the CPU and memory figures the report subtracts."""
    return {
        "server_cpu_s": procs.cpu_seconds(site.pids),
        "server_rss_kib": procs.rss_kib(site.pids),
        "loadgen_cpu_s": procs.own_cpu_seconds(),
        "postgres_cpu_s": procs.cpu_by_name("postgres"),
        "redis_cpu_s": procs.cpu_by_name("redis-server"),
        "t": time.perf_counter(),
    }


def delta(before: dict, after: dict) -> dict:
    skip = ("server_rss_kib", "t")
    spent = {key: after[key] - before[key] for key in before if key not in skip}
    return spent | {"wall_s": after["t"] - before["t"]}
