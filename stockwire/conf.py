"""Stockwire's settings: one dict, `STOCKWIRE`, in the project's settings.

Read each time they are used, so `override_settings` and the `settings` fixture work; an
unset key has the default below. docs/integrating.md documents every key, and
stockwire/checks.py refuses values that cannot work.
"""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Where stock lives: a model of the shop's ("app_label.Model") with two integer fields...
    "MODEL": None,
    "QUANTITY_FIELD": "quantity",
    "VERSION_FIELD": "version",
    # Holds (stockwire/holds.py) need a third integer field on MODEL: the units held for
    # buyers. Unset, nothing is ever held and hold() refuses.
    "HELD_FIELD": None,
    # How long a hold keeps its units for the buyer: time to pay, as shop platforms give.
    "HOLD_SECONDS": 600,
    # Units one user may hold of one item, and in all: a buyer's basket, not a warehouse.
    "HOLD_LIMIT_PER_ITEM": 5,
    "HOLD_LIMIT_TOTAL": 20,
    # Each server process returns expired holds' units this often: within a second of expiry.
    "HOLD_SWEEP_SECONDS": 0.5,
    # ...or a dotted path to `levels(ids) -> {id: (quantity, version)}` for stock kept
    # elsewhere (another table, a sum over warehouses). Wins over MODEL for reads.
    "SOURCE": None,
    # Visitors who are not logged in may watch stock on /ws/stock/ (public catalog pages).
    "ANONYMOUS": False,
    # Origins besides the socket's own that may open cookie sockets, exactly as written
    # ("https://shop.example", "https://*.example.com"); None: CSRF_TRUSTED_ORIGINS.
    "ALLOWED_ORIGINS": None,
    # The bound on staleness when a notification is lost: each process reads the versions of
    # the items its sockets watch this often (one query) and pushes what is newer.
    "RESYNC_SECONDS": 2.0,
    # Enough for any page of a shop; bounds what one socket can make the server track.
    "MAX_SUBSCRIPTIONS": 200,
    # Sockets one user may hold open, over every process sharing REDIS_URL: tabs, devices and
    # apps of one person fit many times over; past it a socket is refused with 4409.
    "MAX_SOCKETS_PER_USER": 20,
    # A page sends a subscribe on load and a ping every 25 s; a burst of 30 and 10 a second
    # after that is far above any honest client. Past it, a socket is closed with 4429.
    "MESSAGE_BURST": 30,
    "MESSAGES_PER_SECOND": 10.0,
    # Presence: each process renews its viewers every REFRESH seconds; a viewer not renewed
    # for TTL seconds (its process died) stops counting. Three refreshes fit in a TTL. The
    # sockets counted against MAX_SOCKETS_PER_USER are renewed and expire the same way.
    "PRESENCE_TTL_SECONDS": 30.0,
    "PRESENCE_REFRESH_SECONDS": 10.0,
    # Presence counts and each user's sockets, shared by every process (redis://...); unset,
    # each process counts its own.
    "REDIS_URL": None,
    # Prefix of Stockwire's keys in Redis; processes sharing Redis and prefix are one site.
    "KEY_PREFIX": "stockwire",
    # The backoff clients are told to use after a drop (full jitter between 0 and
    # min(cap, base * 2^attempt)); a higher cap spreads a reconnect storm over longer.
    "RECONNECT_BASE_MS": 500,
    "RECONNECT_CAP_MS": 15000,
}


class StockwireSettings:
    """`stockwire_settings.RESYNC_SECONDS`: the project's value, or the default."""

    def __getattr__(self, name: str) -> Any:
        try:
            default = DEFAULTS[name]
        except KeyError:
            raise AttributeError(f"Stockwire has no setting {name!r}") from None
        return getattr(settings, "STOCKWIRE", {}).get(name, default)


stockwire_settings = StockwireSettings()
