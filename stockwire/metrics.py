"""What the delivery counts, for Prometheus, when prometheus-client is installed (the
`metrics` extra); without it these are no-ops and nothing is kept.

Multi-process safe: with PROMETHEUS_MULTIPROC_DIR set, each process writes its own files and
a scrape of any process sums them all. Counted per fan-out, not per socket, so measuring
costs the hot path almost nothing.
"""

try:
    from prometheus_client import Counter, Gauge, Histogram
except ImportError:  # pragma: no cover - exercised by the drop-in test's bare install

    class _Unkept:
        """Takes every call a metric takes and keeps nothing."""

        def __init__(self, *args, **kwargs):
            pass

        def labels(self, *values):
            return self

        def inc(self, amount=1):
            pass

        def dec(self, amount=1):
            pass

        def observe(self, value):
            pass

    Counter = Gauge = Histogram = _Unkept


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

# Every known series is exported from the start, at 0: an alert on "refusals went up" or a
# dashboard of open sockets needs the series before the first event (Prometheus' practice).
ENDPOINTS = ("/ws/stock", "/notification/count")
REFUSAL_REASONS = (
    "host_not_allowed",
    "origin_not_allowed",
    "cookie_without_origin",
    "no_credentials",
    "invalid_token",
    "token_auth_not_installed",
    "session_not_logged_in",
    "database_unavailable",
    "flood",
    "too_many_sockets",
    "credentials_expired",
    "signed_out",
)
LAYER_OPERATIONS = ("receive", "group_add", "group_send", "presence", "socket_limit")
FANNED_OUT_KINDS = ("stock", "event", "presence")

for _endpoint in ENDPOINTS:
    OPEN_SOCKETS.labels(_endpoint)
for _reason in REFUSAL_REASONS:
    REFUSED_SOCKETS.labels(_reason)
for _operation in LAYER_OPERATIONS:
    CHANNEL_LAYER_ERRORS.labels(_operation)
for _kind in FANNED_OUT_KINDS:
    MESSAGES_FANNED_OUT.labels(_kind)
