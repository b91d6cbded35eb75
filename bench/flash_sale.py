"""The flash sale: N buyers ask for one item's last S units at the same moment, W watch it.

    python -m bench --flash-sale                       # N = 400, S = 100, W = 2,000
    python -m bench --flash-sale --quick               # N = 100, S = 25, W = 200
    python -m bench --flash-sale --buyers 1000 --profile 5

Stockwire runs as `make serve` runs it (config.server, 2 workers on one port, a scratch
PostgreSQL database, Redis under a prefix of its own). N shoppers with a token each are made
in one `manage.py shell`; every socket, W watchers and N keep-alive connections, is open
before the sale; each buyer's request is encoded ahead; then all N are written in one tight
loop. Measured: every answer's status and time, the orders the database holds afterwards,
when each watcher sees quantity 0, and the CPU the servers spent.

The anchor (bench/flash_anchor.py) is the same purchase with no Django, run the same way on
the same database (another item), driven by the same client; it has no WebSocket watchers.
"""

import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path

import uvloop

from . import flash_profile, measure, procs, report, setups
from .client import HttpConnection
from .report import figure

HOST = measure.HOST
SALE_ITEM = measure.ITEM  # the item measure.Subscriber watches
WARM_ITEM = 2  # warm-up purchases: the sale meets warm processes and open database pools
ANCHOR_ITEM = 3  # the anchor's sale, so both sales' orders can be counted apart
WARM_STOCK = 10_000
WARM_CONNECTIONS, WARM_PURCHASES = 8, 5  # per connection
WORKERS = 2  # `make serve` on this 2-core machine (WORKERS = nproc)
DEFAULTS = {"buyers": 400, "units": 100, "watchers": 2000}
QUICK = {"buyers": 100, "units": 25, "watchers": 200}
CONNECT_TIMEOUT = 10.0
THREAD_POLL_SECONDS = 0.05
# Two py-spy views of one worker at once (flash_profile), each (samples a second, flags):
# every thread's wall time, and the GIL holder's. Neither pauses the worker (--nonblocking):
# pausing a worker of 170-400 threads to read their stacks ran the sale 4-6x slower and
# made the database pool time out. Reading every thread 100 times a second already lags.
PROFILES = {"wall": (100, ["--idle"]), "gil": (250, ["--gil"])}
PROFILE_ATTACH_SECONDS = 1.0  # py-spy's start-up, before the sale begins
TICK = os.sysconf("SC_CLK_TCK")
LOG_ALARMS = re.compile(r"ERROR|CRITICAL|Traceback|WARNING|Exception")


def options(args) -> None:
    """Fill the flash sale's defaults (the issue's figures, or the quick mode's)."""
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.sale_timeout is None:
        args.sale_timeout = 30.0 if args.quick else 120.0


def prepare_shop(buyers: int, stock: dict[int, int]) -> None:
    """Run inside the demo project (`manage.py shell`): shoppers, their tokens, stock levels.

    One password hash for all (hashing is the slow part of making users), tokens signed
    here rather than asked for one by one. Prints {"buyers": [token, ...], "watcher": token}.
    """
    import secrets

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from shop import services

    users = get_user_model().objects
    password = make_password(secrets.token_urlsafe(16))
    names = [f"flash-buyer-{i:05d}" for i in range(buyers)]
    users.bulk_create(users.model(username=name, password=password) for name in names)
    staff = users.get(username="staff")
    for item_id, quantity in stock.items():
        services.adjust(actor=staff, item_id=item_id, quantity=quantity)
    tokens = [str(AccessToken.for_user(user)) for user in users.filter(username__in=names)]
    watcher = str(AccessToken.for_user(users.get(username="alice")))
    print(json.dumps({"buyers": tokens, "watcher": watcher}))


def make_shoppers(env: dict[str, str], buyers: int, units: int) -> dict:
    stock = {SALE_ITEM: units, ANCHOR_ITEM: units, WARM_ITEM: WARM_STOCK}
    shell_env = env | {"PYTHONPATH": f"{env['PYTHONPATH']}:{setups.ROOT}"}
    code = f"from bench.flash_sale import prepare_shop; prepare_shop({buyers}, {stock!r})"
    out = setups._manage(shell_env, "shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


@contextmanager
def stockwire(env: dict[str, str], run_id: str):
    """Stockwire as `make serve` starts it: config.server, WORKERS processes on one port."""
    port = setups.free_port()
    log = setups._log_path(run_id, f"stockwire-{port}")
    command = [*setups.server_command(port), "--workers", str(WORKERS)]
    url = f"http://{HOST}:{port}/api/items/{SALE_ITEM}"
    with procs.started(command, env, log, url) as process:
        yield setups.Site("stockwire", [port], [port], "/ws/stock/", [process.pid], [log])


@contextmanager
def anchor(env: dict[str, str], run_id: str):
    """bench/flash_anchor.py on uvicorn with the same workers, loop and HTTP parser."""
    port = setups.free_port()
    log = setups._log_path(run_id, f"anchor-{port}")
    command = [setups.PYTHON, "-m", "uvicorn", "bench.flash_anchor:app", "--host", HOST,
               "--port", str(port), "--workers", str(WORKERS), "--loop", "uvloop",
               "--http", "httptools", "--no-access-log"]  # fmt: skip
    url = f"http://{HOST}:{port}/api/items/{ANCHOR_ITEM}"
    with procs.started(command, env, log, url) as process:
        yield setups.Site("anchor", [port], [port], "", [process.pid], [log])


class Buyer(HttpConnection):
    """One shopper's keep-alive connection and its one purchase, encoded ahead."""

    def __init__(self, port: int, item_id: int, token: str):
        super().__init__(HOST, port)
        path = f"/api/items/{item_id}/purchase"
        self.purchase = self.encode(
            "POST", path, measure.PURCHASE, f"Authorization: Bearer {token}\r\n"
        )
        self.sent = self.answered = None
        self.status: int | None = None
        self.error: str | None = None
        self.answer: asyncio.Future | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self, self.host, self.port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as error:
            self.error = f"refused: {type(error).__name__}"

    def fire(self) -> None:
        if self.transport is None or self.transport.is_closing():
            self.error = self.error or "closed before the sale"
            return
        self.sent = time.perf_counter()
        self.answer = self.send(self.purchase)
        self.answer.add_done_callback(self._answered)

    def _answered(self, answer: asyncio.Future) -> None:
        self.answered = time.perf_counter()
        if answer.exception() is not None:
            self.error = f"reset: {type(answer.exception()).__name__}"
        else:
            self.status = answer.result()[0]


async def warm_up(port: int, tokens: list[str]) -> None:
    """A few concurrent purchases of another item, so both workers have served some."""
    connections = [HttpConnection(HOST, port) for _ in tokens]
    path = f"/api/items/{WARM_ITEM}/purchase"

    async def buy(connection: HttpConnection, token: str) -> None:
        for _ in range(WARM_PURCHASES):
            status, answer, _ = await connection.request(
                "POST", path, measure.PURCHASE, f"Authorization: Bearer {token}\r\n"
            )
            if status != 201:
                raise RuntimeError(f"warm-up purchase: {status} {answer[:200]!r}")

    try:
        await asyncio.wait_for(
            asyncio.gather(*(buy(c, t) for c, t in zip(connections, tokens, strict=True))), 60
        )
    finally:
        for connection in connections:
            connection.close()


def thread_count(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def accepted_by(port: int, buyers: list[Buyer]) -> Counter:
    """How many buyers' connections each server process holds."""
    ours = {b.transport.get_extra_info("sockname")[1] for b in buyers if b.transport is not None}
    return procs.connection_owners(port, ours)


def worker_cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of a worker: all its threads, and its main thread (the event loop's)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
    except OSError:
        return procs.cpu_seconds([pid]), 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return procs.cpu_seconds([pid]), (int(fields[11]) + int(fields[12])) / TICK


async def peak_threads(pids: list[int], stop: asyncio.Event, limit: float) -> dict[int, int]:
    """Each worker's largest thread count, polled until `stop` is set (or `limit` seconds)."""
    peak = dict.fromkeys(pids, 0)
    deadline = time.perf_counter() + limit
    while not stop.is_set() and time.perf_counter() < deadline:
        for pid in pids:
            peak[pid] = max(peak[pid], thread_count(pid))
        try:
            await asyncio.wait_for(stop.wait(), THREAD_POLL_SECONDS)
        except TimeoutError:
            pass
    return peak


def start_profiles(pid: int, seconds: float, stem: Path) -> dict:
    """py-spy on one worker, twice at once: {mode: (raw output file, process)}."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    started = {}
    for mode, (rate, flags) in PROFILES.items():
        path = stem.with_name(f"{stem.name}-{mode}.txt")
        command = [py_spy, "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
                   "--rate", str(rate), "--nonblocking", "--format", "raw", "--threads",
                   *flags, "-o", str(path)]  # fmt: skip
        started[mode] = (
            path,
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        )
    return started


async def sale(site: setups.Site, item_id: int, shoppers: dict, watchers: int, args,
               profile_stem: Path | None = None) -> dict:  # fmt: skip
    """Open every socket, then write all purchases at once; what came back, and when."""
    port = site.http_ports[0]
    shop = measure.Shop(site.http_ports, {"alice": shoppers["watcher"]})
    opened = await measure.open_subscribers(site, shop, watchers, "raw", args.batch)
    subscribers, tracker = opened.pop("subscribers"), opened.pop("tracker")
    buyers = [Buyer(port, item_id, token) for token in shoppers["buyers"]]
    profilers = {}
    try:
        await warm_up(port, shoppers["buyers"][:WARM_CONNECTIONS])
        if subscribers:
            # Quantity 0 is the version S purchases after this one: only the sale changes it.
            tracker.arm(await shop.version() + args.units, len(subscribers))
        worker_pids = procs.workers(site.pids[0])
        # Opened last and quickly: uvicorn closes a keep-alive connection idle for 5 s.
        opening = time.perf_counter()
        for first in range(0, len(buyers), args.batch):
            await asyncio.gather(*(b.connect() for b in buyers[first : first + args.batch]))
        result = {
            "setup": site.setup,
            "item": item_id,
            "buyers": len(buyers),
            "units": args.units,
            "watchers": watchers,
            "watchers_open": opened | {"opened": len(subscribers)},
            "buyers_open_s": time.perf_counter() - opening,
        }
        await asyncio.sleep(0.1)  # the workers accept the last connections
        accepted = accepted_by(port, buyers)
        if profile_stem is not None:  # the worker with the most buyers
            profiled = max(worker_pids, key=lambda pid: accepted[pid])
            profilers = start_profiles(profiled, args.profile, profile_stem)
            await asyncio.sleep(PROFILE_ATTACH_SECONDS)
        result |= await fire(site, buyers, tracker if subscribers else None, worker_pids, args)
        for worker in result["workers"]:
            worker["buyers"] = accepted[worker["pid"]]
        result |= watchers_summary(tracker.arrivals if subscribers else [], len(subscribers),
                                   result["started_at"], result["last_answer_at"],
                                   result["last_sold_at"])  # fmt: skip
        result["disconnected_watchers"] = sum(sub.ws.closed for sub in subscribers)
    finally:
        for sub in subscribers:
            sub.ws.close()
        for buyer in buyers:
            buyer.close()
        await asyncio.sleep(0.5)  # let the close frames go out before the server stops
    if profilers:
        result["profile"] = {"worker": profiled}
        for mode, (path, process) in profilers.items():
            said, _ = process.communicate(timeout=args.profile + 60)
            summary = flash_profile.summarize(path)
            result["profile"][mode] = summary | {"file": str(path), "py_spy": said[-300:]}
    return result


async def fire(site: setups.Site, buyers: list[Buyer], tracker: measure.Tracker | None,
               worker_pids: list[int], args) -> dict:  # fmt: skip
    """The sale itself: every request written in one loop, then answers and watchers awaited.

    CPU is counted from the first write until the last answer, and until the last watcher
    shows 0 (or the timeouts); thread counts are polled meanwhile.
    """
    stop_polling = asyncio.Event()
    threads = asyncio.ensure_future(
        peak_threads(worker_pids, stop_polling, args.sale_timeout + args.settle)
    )
    worker_cpu = {pid: worker_cpu_seconds(pid) for pid in worker_pids}
    before = measure.resources(site)

    started = time.perf_counter()
    for buyer in buyers:
        buyer.fire()
    written = time.perf_counter()

    answers = [buyer.answer for buyer in buyers if buyer.answer is not None]
    if answers:
        await asyncio.wait(answers, timeout=args.sale_timeout)
    answered = measure.resources(site)
    if tracker is not None:
        try:
            await asyncio.wait_for(tracker.done.wait(), args.settle)
        except TimeoutError:
            pass
    settled = measure.resources(site)
    worker_cpu = {pid: (cpu, worker_cpu_seconds(pid)) for pid, cpu in worker_cpu.items()}
    stop_polling.set()
    peak = await threads
    return {
        "started_at": started,
        "write_loop_ms": (written - started) * 1e3,
        "workers": [
            {
                "pid": pid,
                "threads_peak": peak[pid],
                "cpu_s": after[0] - then[0],
                "event_loop_cpu_s": after[1] - then[1],
            }
            for pid, (then, after) in worker_cpu.items()
        ],
        "cpu_to_last_answer": measure.delta(before, answered),
        "cpu_with_fan_out": measure.delta(before, settled),
    } | answers_summary(buyers, started)


def answers_summary(buyers: list[Buyer], started: float) -> dict:
    statuses = Counter()
    for buyer in buyers:
        if buyer.status is None:
            statuses["none"] += 1
        elif buyer.status in (201, 409, 429):
            statuses[str(buyer.status)] += 1
        else:
            statuses["5xx" if buyer.status >= 500 else "other"] += 1
    latencies = sorted(b.answered - b.sent for b in buyers if b.status is not None)
    sold = sorted(b.answered - b.sent for b in buyers if b.status == 201)
    last = max((b.answered for b in buyers if b.status is not None), default=None)
    return {
        "answers": {key: statuses[key] for key in ("201", "409", "429", "5xx", "other", "none")},
        "status_codes": dict(Counter(str(b.status) for b in buyers if b.status is not None)),
        "failures": dict(Counter(b.error.split(":")[0] for b in buyers if b.error)),
        "unanswered": sum(b.answer is not None and not b.answer.done() for b in buyers),
        "last_answer_at": last,
        "last_sold_at": max((b.answered for b in buyers if b.status == 201), default=None),
        "last_answer_s": None if last is None else last - started,
        "latency_ms": _percentiles(latencies),
        "latency_201_ms": _percentiles(sold),
        "latencies_ms": [round(t * 1e3, 3) for t in latencies],
    }


def watchers_summary(arrivals: list[float], opened: int, started: float,
                     last_answer: float | None, last_sold: float | None) -> dict:  # fmt: skip
    last = max(arrivals, default=None)
    return {
        "watchers_at_zero": len(arrivals),
        "watchers_opened": opened,
        "last_watcher_at_zero_s": None if last is None else last - started,
        # From the last answer to the last watcher showing 0; negative: the watchers knew first.
        "zero_lag_s": None if last is None or last_answer is None else last - last_answer,
        # From the last unit's buyer being answered to the last watcher showing 0.
        "zero_after_sold_out_s": None if last is None or last_sold is None else last - last_sold,
        "watcher_zero_ms": _percentiles(sorted(t - started for t in arrivals)),
    }


def _percentiles(ordered: list[float]) -> dict:
    return {
        "p50": measure.percentile(ordered, 0.50) * 1e3,
        "p90": measure.percentile(ordered, 0.90) * 1e3,
        "p99": measure.percentile(ordered, 0.99) * 1e3,
        "max": (ordered[-1] * 1e3) if ordered else float("nan"),
    }


def in_database(database_url: str, item_id: int) -> dict:
    """What the sale left in PostgreSQL, read directly: the orders are the truth."""
    import psycopg

    with psycopg.connect(database_url) as db:
        orders, units = db.execute(
            "SELECT count(*), coalesce(sum(quantity), 0) FROM shop_order WHERE item_id = %s",
            (item_id,),
        ).fetchone()
        (movements,) = db.execute(
            "SELECT count(*) FROM shop_stockmovement WHERE item_id = %s AND reason = 'purchase'",
            (item_id,),
        ).fetchone()
        quantity, version = db.execute(
            "SELECT quantity, version FROM shop_item WHERE id = %s", (item_id,)
        ).fetchone()
    return {"orders": orders, "units_sold": int(units), "purchase_movements": movements,
            "quantity_left": quantity, "version": version}  # fmt: skip


def log_alarms(site: setups.Site) -> list[str]:
    return [
        f"{path.name}: {line[:300]}"
        for path in site.logs
        for line in path.read_text(errors="replace").splitlines()
        if LOG_ALARMS.search(line)
    ][:50]


def run(args, run_id: str) -> list[dict]:
    """Both sales on one scratch database: Stockwire's, then the anchor's."""
    prefix = f"stockwire-flash-{uuid.uuid4().hex[:10]}"
    with setups.scratch_database() as database_url, ExitStack() as cleanup:
        cleanup.callback(setups._drop_redis_keys, prefix)
        env = setups._django_env(
            DATABASE_URL=database_url, REDIS_URL=setups.REDIS_URL, CHANNEL_PREFIX=prefix
        )
        setups._manage(env, "migrate", "--noinput")
        setups._manage(env, "load_demo")
        made = time.perf_counter()
        shoppers = make_shoppers(env, args.buyers, args.units)
        print(f"   {args.buyers:,} shoppers and tokens in {time.perf_counter() - made:.1f} s")
        profile_stem = setups.RESULTS / f"{run_id}-pyspy" if args.profile else None
        rows = []
        for start, item_id, watchers, profile in (
            (stockwire, SALE_ITEM, args.watchers, profile_stem),
            (anchor, ANCHOR_ITEM, 0, None),
        ):
            with start(env, run_id) as site:
                print(f"== {site.setup}: {args.buyers:,} buyers, {args.units:,} units, "
                      f"{watchers:,} watchers ...", flush=True)  # fmt: skip
                row = uvloop.run(sale(site, item_id, shoppers, watchers, args, profile))
            row["log_alarms"] = log_alarms(site)
            row["server_logs"] = [str(path) for path in site.logs]
            row["db"] = in_database(database_url, item_id)
            rows.append(row)
            print(f"   {line(row)}", flush=True)
    return rows


def line(row: dict) -> str:
    answers, db = row["answers"], row["db"]
    return (
        f"201 {answers['201']}, 409 {answers['409']}, "
        f"other {row['buyers'] - answers['201'] - answers['409']}; "
        f"last answer {figure(row['last_answer_s'], 2)} s; orders in DB {db['orders']}; "
        f"watchers at 0 {row['watchers_at_zero']:,}/{row['watchers_opened']:,}"
    )


def _unanswered(row: dict) -> str:
    """No answer or another status, with why (refused, reset, closed before the sale)."""
    count = row["answers"]["none"] + row["answers"]["other"]
    why = ", ".join(f"{reason} {n}" for reason, n in row["failures"].items())
    return f"{count} ({why})" if why else str(count)


def _worker(worker: dict) -> str:
    return (
        f"{worker['buyers']}, {worker['threads_peak']}, "
        f"{worker['cpu_s']:.2f} ({worker['event_loop_cpu_s']:.2f})"
    )


def table(rows: list[dict]) -> str:
    lines = [
        "| setup | N | S | W | 201 | 409 | 429 | 5xx | none or other | last answer s | p50 ms "
        "| p90 ms | p99 ms | max ms | orders / units in DB | watchers at 0 | last at 0 s | lag s "
        "| after last 201 s | server CPU s | CPU ms / attempt | PostgreSQL CPU s "
        "| per worker: buyers, peak threads, CPU s (event loop) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
        "|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        answers, latency, db = row["answers"], row["latency_ms"], row["db"]
        cpu = row["cpu_with_fan_out"]
        watched = row["watchers_opened"]
        at_zero = f"{row['watchers_at_zero']:,}" if watched else "n/a"
        lines.append(
            f"| {row['setup']} | {row['buyers']:,} | {row['units']:,} | {watched:,} "
            f"| {answers['201']} | {answers['409']} | {answers['429']} | {answers['5xx']} "
            f"| {_unanswered(row)} | {figure(row['last_answer_s'], 2)} "
            f"| {figure(latency['p50'])} | {figure(latency['p90'])} | {figure(latency['p99'])} "
            f"| {figure(latency['max'])} | {db['orders']} / {db['units_sold']} "
            f"| {at_zero} "
            f"| {figure(row['last_watcher_at_zero_s'], 2)} | {figure(row['zero_lag_s'], 2)} "
            f"| {figure(row['zero_after_sold_out_s'], 2)} "
            f"| {figure(cpu['server_cpu_s'], 2)} "
            f"| {figure(cpu['server_cpu_s'] * 1e3 / row['buyers'], 1)} "
            f"| {figure(cpu['postgres_cpu_s'], 2)} "
            f"| {'; '.join(_worker(w) for w in row['workers'])} |"
        )
    return "\n".join(lines)


NOTE = (
    "All N requests are written in one loop at t = 0; latency = each request's write to its "
    "answer; last answer s and last at 0 s count from t = 0; lag = last watcher at 0 minus "
    "last answer (negative: the watchers knew first); after last 201 = last watcher at 0 "
    "minus the answer to the last unit's buyer. none or other = no answer within the sale "
    "timeout (refused and reset ones named) or another status. Orders / units: read from "
    "PostgreSQL after the sale. CPU s: the server's processes from t = 0 until the last "
    "answer and (Stockwire) the last watcher at 0, so Stockwire's includes its fan-out to W "
    "sockets; the anchor has no watchers. Per worker: the buyers' connections it accepted, "
    "its most threads, CPU s of all its threads (of its event-loop thread). The server, "
    "PostgreSQL, Redis and the load generator share the machine's {nproc} cores."
)


def plot(rows: list[dict], path: Path, title: str) -> Path:
    """The CDF of purchase latencies, one line per set-up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for row in rows:
        latencies = row["latencies_ms"]
        if latencies:
            shares = [(i + 1) / row["buyers"] for i in range(len(latencies))]
            axes.step(latencies, shares, where="post", label=f"{row['setup']} (all answers)")
    axes.set_xlabel("purchase latency: request written -> answer (ms)")
    axes.set_ylabel("share of the N buyers answered")
    axes.set_ylim(0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def main(args) -> int:
    options(args)
    run_id = (
        time.strftime("%Y%m%d-%H%M%S") + f"-flash-{args.buyers}" + ("-quick" if args.quick else "")
    )
    facts = report.machine()
    rows = run(args, run_id)
    markdown = table(rows)
    note = NOTE.format(nproc=facts["nproc"])
    profile = rows[0].get("profile")
    path = report.write_json(
        run_id,
        {"run_id": run_id, "machine": facts, "args": vars(args), "rows": rows, "table": markdown},
    )
    text = markdown + "\n\n" + note + "\n"
    for mode in flash_profile.HEADINGS if profile else ():
        text += "\n" + flash_profile.table(profile[mode], mode) + "\n"
    (report.RESULTS / f"{run_id}.md").write_text(text)
    title = f"Flash sale: {args.buyers:,} buyers, {args.units:,} units, {args.watchers:,} watchers"
    picture = plot(rows, report.RESULTS / f"{run_id}.png", title)
    print()
    print(text)
    for row in rows:
        for alarm in row["log_alarms"][:5]:
            print(f"   log: {alarm}")
    print(f"Machine: {facts['nproc']} x {facts.get('cpu_model')}; results: {path}; plot: {picture}")
    oversold = any(row["db"]["units_sold"] > args.units for row in rows)
    return 1 if oversold else 0
