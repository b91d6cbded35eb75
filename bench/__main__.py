"""`python -m bench`: run set-ups x subscriber counts, print the table, write JSON and a plot.

python -m bench                                   # everything, N = 1000, 5000, 10000
python -m bench --quick                           # the smoke run, under a minute
python -m bench --setup redis-core --subscribers 5000
python -m bench --flash-sale --buyers 400 --units 100 --watchers 2000   # bench/flash_sale.py
"""

import argparse
import asyncio
import json
import re
import signal
import sys
import time
import traceback
from pathlib import Path

import uvloop

from . import flash_sale, measure, report, setups
from .procs import open_file_limit

FULL_N = (1000, 5000, 10000)
# Each legacy client holds a socket and an HTTP connection: 10,000 of them pass the
# 20,000 open files a process may have on our machines.
LEGACY_MAX_N = 5000
RESTOCK = 1_000_000  # the API's largest quantity: enough for every change of a run
LOG_ALARMS = re.compile(r"ERROR|CRITICAL|Traceback|WARNING|over capacity|Exception", re.I)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--setup", action="append", choices=setups.SETUPS, help="repeatable; default: all"
    )
    parser.add_argument(
        "--subscribers",
        "-n",
        type=int,
        action="append",
        help="repeatable; default 1000 5000 10000 (quick: 200)",
    )
    parser.add_argument("--quick", action="store_true", help="the smoke run")
    parser.add_argument("--changes", type=int, help="sequential fan-out changes (default 20)")
    parser.add_argument("--duration", type=float, help="sustained seconds (default 10)")
    parser.add_argument(
        "--purchasers",
        type=int,
        default=2,
        help="concurrent HTTP clients firing purchases in the sustained phase",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "websockets"),
        default="raw",
        help="raw: bench/client.py's Protocol; websockets: the library's client",
    )
    parser.add_argument("--batch", type=int, default=200, help="sockets opened concurrently")
    parser.add_argument(
        "--change-timeout", type=float, help="seconds to wait for every subscriber per change"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds after the sustained phase for subscribers to catch up",
    )
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="RUN.json",
        help="measure nothing: print one table and plot from earlier runs' summary JSON files",
    )
    flash = parser.add_argument_group("the flash sale (bench/flash_sale.py)")
    flash.add_argument("--flash-sale", action="store_true", help="run it instead of the set-ups")
    flash.add_argument("--buyers", type=int, help="one purchase each (default 400; quick: 100)")
    flash.add_argument("--units", type=int, help="stock of the item (default 100; quick: 25)")
    flash.add_argument(
        "--watchers", type=int, help="sockets watching it (default 2000; quick: 200)"
    )
    flash.add_argument("--sale-timeout", type=float, help="seconds to wait for every answer")
    flash.add_argument(
        "--profile", type=float, metavar="SECONDS", help="py-spy one Stockwire worker this long"
    )
    args = parser.parse_args(argv)
    args.setup = args.setup or list(setups.SETUPS)
    args.subscribers = args.subscribers or ([200] if args.quick else list(FULL_N))
    args.changes = args.changes or (5 if args.quick else 20)
    args.duration = args.duration or (2.0 if args.quick else 10.0)
    if args.quick:
        args.settle = min(args.settle, 10.0)
    return args


def change_timeout(args, setup: str, n: int) -> float:
    if args.change_timeout:
        return args.change_timeout
    # Legacy clients each make a GET per change; one process answered ~200 a second here.
    return max(10.0, n / 100) if setup == "legacy-refetch" else max(10.0, n / 500)


async def run_one(site: setups.Site, n: int, args) -> dict:
    """Everything measured on one running set-up with n subscribers."""
    shop = measure.Shop(site.http_ports)
    await shop.login("alice", "bob", "staff")
    await shop.restock(RESTOCK)
    await measure.warm_up(site, shop, args.client)
    before_open = measure.resources(site)
    opened = await measure.open_subscribers(site, shop, n, args.client, args.batch)
    subscribers = opened.pop("subscribers")
    tracker = opened.pop("tracker")
    after_open = measure.resources(site)
    try:
        if not subscribers:
            raise RuntimeError(f"no subscriber could connect ({opened})")
        fan = await measure.fan_out(
            shop, subscribers, tracker, args.changes, change_timeout(args, site.setup, n)
        )
        sus = await measure.sustained(
            shop, subscribers, args.duration, args.purchasers, args.settle
        )
        end = measure.resources(site)
        return {
            "open": opened
            | {"opened": len(subscribers), "cpu": measure.delta(before_open, after_open)},
            "rss_kib_before": before_open["server_rss_kib"],
            "rss_kib_after": after_open["server_rss_kib"],
            "kib_per_socket": (after_open["server_rss_kib"] - before_open["server_rss_kib"])
            / len(subscribers),
            "fan_out": fan,
            "sustained": sus,
            "cpu": measure.delta(after_open, end),
            "disconnected": sum(sub.ws.closed for sub in subscribers),
            "frames": sum(sub.frames for sub in subscribers),
            "legacy_gets": sum(getattr(sub, "gets", 0) for sub in subscribers),
        }
    finally:
        for sub in subscribers:
            sub.ws.close()
            if isinstance(sub, measure.LegacySubscriber):
                sub.http.close()
        shop.close()
        await asyncio.sleep(0.5)  # let the close frames go out before the server stops


def log_alarms(site: setups.Site) -> list[str]:
    """Lines of the server logs worth a look (errors, warnings, capacity drops)."""
    found = []
    for path in site.logs:
        for line in path.read_text(errors="replace").splitlines():
            if LOG_ALARMS.search(line):
                found.append(f"{path.name}: {line[:300]}")
    return found


def run(setup: str, n: int, args, run_id: str) -> dict:
    row = {
        "setup": setup,
        "n": n,
        "client": args.client,
        "changes_requested": args.changes,
        "duration_requested": args.duration,
        "purchasers": args.purchasers,
    }
    started = time.perf_counter()
    site = None
    try:
        with setups.start(setup, f"{run_id}-{setup}-{n}") as site:
            row["server_ports"] = site.ws_ports
            row["server_open_files"] = [open_file_limit(pid) for pid in site.pids]
            row |= uvloop.run(run_one(site, n, args))
    except Exception as error:
        row["error"] = f"{type(error).__name__}: {error}"
        row["traceback"] = traceback.format_exc()
    finally:
        if site is not None:
            row["server_logs"] = [str(path) for path in site.logs]
            row["log_alarms"] = log_alarms(site)[:50]
        row["run_seconds"] = time.perf_counter() - started
    report.write_json(f"{run_id}-{setup}-{n}", row)
    return row


def _terminate(signum, frame):
    raise KeyboardInterrupt  # unwinds every `with`, which stops the servers


def combine(paths: list[str]) -> int:
    """One table and one plot over several runs (e.g. N = 10,000 run on its own)."""
    rows = [row for path in paths for row in json.loads(Path(path).read_text())["rows"]]
    rows.sort(key=lambda row: (row["n"], setups.SETUPS.index(row["setup"])))
    print(report.table(rows))
    print(f"\nplot: {report.plot(rows, report.RESULTS / 'p99.png')}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.combine:
        return combine(args.combine)
    setups.raise_open_file_limit()
    signal.signal(signal.SIGTERM, _terminate)
    if args.flash_sale:
        return flash_sale.main(args)
    run_id = time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    facts = report.machine()
    rows = []
    for n in args.subscribers:
        for setup in args.setup:
            if setup == "legacy-refetch" and n > LEGACY_MAX_N:
                continue
            print(f"== {setup}, N={n:,} ...", flush=True)
            row = run(setup, n, args, run_id)
            rows.append(row)
            if "error" in row:
                print(f"   failed: {row['error'][:500]}", flush=True)
            else:
                fan, sus = row["fan_out"], row["sustained"]
                print(
                    f"   p50 {fan['p50_ms']:.0f} ms, p99 {fan['p99_ms']:.0f} ms, missed "
                    f"{fan['missed']}; sustained {sus['changes_per_s']:.1f} changes/s, "
                    f"{sus['deliveries_per_s']:,.0f} deliveries/s, stale {sus['stale']} "
                    f"({row['run_seconds']:.0f} s)",
                    flush=True,
                )
            for line in row.get("log_alarms", [])[:5]:
                print(f"   log: {line}", flush=True)
    markdown = report.table(rows)
    note = report.NOTE.format(nproc=facts["nproc"])
    summary = {
        "run_id": run_id,
        "machine": facts,
        "args": vars(args),
        "rows": rows,
        "table": markdown,
    }
    path = report.write_json(run_id, summary)
    (report.RESULTS / f"{run_id}.md").write_text(markdown + "\n\n" + note + "\n")
    plot = report.plot(rows, report.RESULTS / "p99.png")
    print()
    print(markdown)
    print()
    print(note)
    print(f"\nMachine: {facts['nproc']} x {facts.get('cpu_model')}; results: {path}; plot: {plot}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
