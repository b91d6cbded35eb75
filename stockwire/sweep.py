"""Work on a timer without a cron job: every server process, every HOLD_SWEEP_SECONDS, ends
the holds whose time is up (their units are for sale again within a second of expiry) and
emails the users of fired back-in-stock alerts.

Processes sweep side by side: each skips holds and alerts another is ending or emailing
(stockwire/holds.py, stockwire/alerts.py), so each hold's units come back once and each alert
is emailed once. Holds are swept only where they are on (HELD_FIELD); alerts wherever
Stockwire changes stock (MODEL), holds or not.
"""

import asyncio
import logging
from collections.abc import Callable

from channels.db import database_sync_to_async

from . import alerts, holds
from .conf import stockwire_settings
from .errors import DATABASE_ERRORS

logger = logging.getLogger("stockwire.sweep")

# A job that failed (the mail server is down) waits twice as long before each next try, up
# to this: a server away for an hour costs a try a minute per process, not one per sweep, and
# the log has its error once, then its recovery.
MAX_BACKOFF_SECONDS = 60.0


def _jobs() -> list[tuple[str, Callable[[], int]]]:
    """(what, function) of each job this process sweeps, as the settings are now."""
    jobs = []
    if stockwire_settings.HELD_FIELD:
        jobs.append(("hold expiry", holds.expire_due))
    if stockwire_settings.MODEL:
        jobs.append(("back-in-stock emails", alerts.send_due))
    return jobs


class Sweep:
    def __init__(self):
        self._database_failing = False
        # what -> (failures in a row, the event loop's time of its next try)
        self._backoff: dict[str, tuple[int, float]] = {}

    async def run(self) -> None:
        """Sweep forever (the interval is read each time, so tests can shorten it)."""
        loop = asyncio.get_running_loop()
        while True:
            interval = stockwire_settings.HOLD_SWEEP_SECONDS
            await asyncio.sleep(interval)
            for what, job in _jobs():
                failures, next_try = self._backoff.get(what, (0, 0.0))
                if loop.time() < next_try:
                    continue
                try:
                    await database_sync_to_async(job)()
                except asyncio.CancelledError:
                    raise
                except DATABASE_ERRORS as error:
                    # Logged once per outage; holds expire late and emails go late, never twice.
                    if not self._database_failing:
                        logger.warning("database unreachable; the sweep is paused: %s", error)
                    self._database_failing = True
                    break
                except Exception:
                    if not failures:
                        logger.exception("%s failed; trying again, less and less often", what)
                    delay = min(interval * 2 ** (failures + 1), MAX_BACKOFF_SECONDS)
                    self._backoff[what] = (failures + 1, loop.time() + delay)
                else:
                    if self._backoff.pop(what, None) is not None:
                        logger.warning("%s works again", what)
                    if self._database_failing:
                        logger.warning("database reachable again; the sweep resumed")
                        self._database_failing = False
