"""Expiry without a cron job: every server process ends the holds whose time is up, every
HOLD_SWEEP_SECONDS, so their units are for sale again within a second of expiry.

Processes sweep side by side: each skips holds another is ending (stockwire/holds.py), so
each hold's units come back once. Nothing runs where holds are off (no HELD_FIELD).
"""

import asyncio
import logging

from channels.db import database_sync_to_async

from . import holds
from .conf import stockwire_settings
from .errors import DATABASE_ERRORS

logger = logging.getLogger("stockwire.sweep")


class Sweep:
    def __init__(self):
        self._database_failing = False

    async def run(self) -> None:
        """Sweep forever (the interval is read each time, so tests can shorten it)."""
        while True:
            await asyncio.sleep(stockwire_settings.HOLD_SWEEP_SECONDS)
            if not stockwire_settings.HELD_FIELD:
                continue
            try:
                await database_sync_to_async(holds.expire_due)()
            except asyncio.CancelledError:
                raise
            except DATABASE_ERRORS as error:
                # Logged once per outage; holds expire late, never twice.
                if not self._database_failing:
                    logger.warning("database unreachable; hold expiry paused: %s", error)
                self._database_failing = True
            except Exception:
                logger.exception("hold expiry failed; trying again")
            else:
                if self._database_failing:
                    logger.warning("database reachable again; hold expiry resumed")
                    self._database_failing = False
