"""Where a worker's threads spent the flash sale: py-spy's raw samples, grouped by layer.

    .venv/bin/python -m bench.flash_profile bench/results/<run>-pyspy-wall.txt
    .venv/bin/python -m bench.flash_profile bench/results/<run>-pyspy-gil.txt --gil

`py-spy record --format raw --threads --idle` samples every thread, waiting or not: a share
is of wall time, for a request thread where its request's time went (a thread waiting for
the GIL shows where it waits). With --gil instead, only the thread holding the GIL is
sampled: where the worker's Python time went. Each sample goes to the innermost layer its
stack is in (the first rule that matches, walking from the innermost frame out). The main
thread runs the event loop; Django runs each request's sync code on an executor thread of
its own (asgiref's per-request executor); the rest are helpers (psycopg's pool workers,
uvicorn's pong, asgiref's executor joins, idle executors).
"""

import sys
from collections import Counter
from pathlib import Path

# (layer, what a frame contains): the first layer one of whose strings a frame contains,
# innermost frame first; "(path/" matches a file under that path.
LAYERS = [
    ("waiting for a pooled database connection", ("(psycopg_pool/",)),
    ("async_to_sync hop: waits for the event loop", ("(asgiref/current_thread_executor.py",)),
    ("starting a thread", ("Thread.start (threading.py",)),
    ("PostgreSQL: psycopg, round trips, row-lock waits", ("(psycopg/",)),
    ("channel layer (channels_redis)", ("(channels_redis/",)),
    ("Redis client: redis-py (the throttle's cache; the channel layer's)", ("(redis/",)),
    ("Stockwire: publish, hub, WebSocket frames", ("(stockwire/",)),
    ("DRF auth (simplejwt, PyJWT)", ("(rest_framework_simplejwt/", "(jwt/")),
    ("DRF throttle and Django cache", ("(rest_framework/throttling.py", "(django/core/cache/")),
    ("Django ORM", ("(django/db/",)),
    (
        "serializers and JSON",
        (
            "(rest_framework/serializers.py",
            "(rest_framework/fields.py",
            "(rest_framework/renderers.py",
            "(rest_framework/utils/",
            "(json/",
            "(orjson",
        ),
    ),
    ("DRF request and view", ("(rest_framework/",)),
    ("the shop's code (views, services)", ("(shop/", "(config/")),
    ("Django request handling, middleware, signals", ("(django/", "(whitenoise/")),
    ("uvicorn (HTTP, WebSocket protocol)", ("(uvicorn/", "(websockets/", "(httptools/")),
    ("Channels", ("(channels/",)),
    ("asgiref thread hand-offs (sync_to_async)", ("(asgiref/",)),
]
# Only when no layer above matches anywhere in the stack.
THREADING = ("Python locks and queues", ("(threading.py", "(concurrent/", "(queue.py"))
# Frames up to these are a thread's base, not its work.
BASES = ("Runner.run (asyncio/runners.py", "_WorkItem.run (concurrent/futures/thread.py")
# The event loop in uvloop's C code (polling, reading, httptools parsing) or waiting there.
IN_UVLOOP = "event loop in C (uvloop I/O, httptools parsing) or idle"
# Threads are told apart by their stacks (a thread py-spy meets just started has no name yet).
MAIN = "spawn_main (multiprocessing/spawn.py"
WORK = "SyncToAsync.thread_handler (asgiref/sync.py"
IDLE = "_worker (concurrent/futures/thread.py:81)"  # an executor thread waiting for work
# A request's thread between its sync parts, e.g. after the response went out and before
# the event loop hands it response.close() (which gives the database connection back).
BETWEEN = "between sync parts: waits for the event loop's next call"
TOP = 12


def layer(frames: list[str]) -> str:
    base = next((i for i, frame in enumerate(frames) if frame.startswith(BASES)), None)
    if base is not None:
        frames = frames[base + 1 :]
        if not frames:
            return IN_UVLOOP
    for rules in (LAYERS, [THREADING]):
        for frame in reversed(frames):
            for name, marks in rules:
                if any(mark in frame for mark in marks):
                    return name
    return "other Python" if frames else "no Python frame"


def summarize(path: Path) -> dict:
    """Samples of the event loop and of the request threads by layer, as shares in %."""
    kinds = {"event loop": Counter(), "request threads": Counter(), "helper threads": Counter()}
    samples = []
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        thread, *frames = stack.split(";")
        samples.append((thread, frames, int(count)))
    # A request thread is one seen running a request's sync code (idle pools' threads are not).
    working = {thread.split(":")[0] for thread, frames, _ in samples if WORK in ";".join(frames)}
    threads = {"request threads": set(), "helper threads": set()}
    for thread, frames, n in samples:
        tid = thread.split(":")[0]
        if thread.endswith(": MainThread") or any(f.startswith(MAIN) for f in frames):
            kinds["event loop"][layer(frames)] += n
        elif tid in working:
            threads["request threads"].add(tid)
            idle = frames and frames[-1] == IDLE
            kinds["request threads"][BETWEEN if idle else layer(frames)] += n
        else:
            threads["helper threads"].add(tid)
            kinds["helper threads"][layer(frames)] += n
    everything = sum(sum(counts.values()) for counts in kinds.values()) or 1
    result = {
        "threads_sampled": {kind: len(tids) for kind, tids in threads.items()},
        "samples": everything,
        "kinds": {kind: round(100 * sum(c.values()) / everything, 1) for kind, c in kinds.items()},
    }
    for kind in ("event loop", "request threads"):
        total = sum(kinds[kind].values()) or 1
        result[kind] = {name: round(100 * n / total, 1) for name, n in kinds[kind].most_common()}
    return result


HEADINGS = {
    "wall": "every thread, waiting included (py-spy --idle): where a request's time goes",
    "gil": "only the thread holding the GIL (py-spy --gil): where the worker's Python runs",
}


def table(profile: dict, mode: str) -> str:
    """The top layers of the request threads and of the event loop."""
    sampled, kinds = profile["threads_sampled"], profile["kinds"]
    lines = [
        f"py-spy on one worker, {HEADINGS[mode]}: {sampled['request threads']} request threads "
        f"and {sampled['helper threads']} helpers seen; of {profile['samples']:,} samples, "
        + ", ".join(f"{kind} {share} %" for kind, share in kinds.items())
        + ". Shares below: of that kind's samples.",
        "",
        "| thread | layer (innermost) | share % |",
        "|---|---|---:|",
    ]
    for kind in ("request threads", "event loop"):
        for name, share in list(profile[kind].items())[:TOP]:
            lines.append(f"| {kind} | {name} | {share} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(summarize(Path(sys.argv[1])), "gil" if "--gil" in sys.argv else "wall"))
