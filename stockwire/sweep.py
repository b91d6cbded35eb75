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

    async def run(self) -> None:
        """Sweep forever (the interval is read each time, so tests can shorten it)."""
        while True:
            await asyncio.sleep(stockwire_settings.HOLD_SWEEP_SECONDS)
            for what, job in _jobs():
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
                    logger.exception("%s failed; trying again", what)
                else:
                    if self._database_failing:
                        logger.warning("database reachable again; the sweep resumed")
                        self._database_failing = False
