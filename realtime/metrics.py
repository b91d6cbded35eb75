"""What the real-time layer counts, for /metrics (config/health.py). Multi-process safe:
with PROMETHEUS_MULTIPROC_DIR set (config/server.py sets it), each process writes its own
files and a scrape of any process sums them all.

Counted per fan-out, not per socket, so measuring costs the hot path almost nothing.
"""

from prometheus_client import Counter, Gauge, Histogram

OPEN_SOCKETS = Gauge(
    "stockwire_open_sockets", "WebSockets open now.", ["endpoint"], multiprocess_mode="livesum"
)
SUBSCRIPTIONS = Gauge(
    "stockwire_subscriptions",
    "Items watched, summed over open sockets.",
    multiprocess_mode="livesum",
)
MESSAGES_FANNED_OUT = Counter(
    "stockwire_messages_fanned_out", "Messages handed to sockets by the hubs.", ["kind"]
)
MESSAGES_COALESCED = Counter(
    "stockwire_messages_coalesced",
    "Stock messages replaced by a newer version before a slow socket took them.",
)
FANOUT_SECONDS = Histogram(
    "stockwire_fanout_seconds",
    "From the commit of a change to the hub's last local send of it.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REFUSED_SOCKETS = Counter(
    "stockwire_refused_sockets", "Sockets refused or closed by the server, by reason.", ["reason"]
)
CHANNEL_LAYER_ERRORS = Counter(
    "stockwire_channel_layer_errors", "Failed channel-layer operations.", ["operation"]
)
