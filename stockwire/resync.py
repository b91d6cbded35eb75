"""Heals lost notifications: every RESYNC_SECONDS, read the stock of the items this process's
sockets watch, in one query through MODEL or SOURCE, and push what is newer than was sent.

A change whose message was dropped (a full inbox, Redis away, a crash between commit and
publish) or never published (a bulk update(), another program) reaches every connected
subscriber within RESYNC_SECONDS plus one query.
"""

import asyncio
import logging

from channels.db import database_sync_to_async

from . import messages, stock
from .conf import stockwire_settings
from .errors import DATABASE_ERRORS
from .subscribers import Subscribers

logger = logging.getLogger("stockwire.resync")


class Resync:
    def __init__(self, subscribers: Subscribers):
        self._subscribers = subscribers
        self._database_failing = False

    async def run(self) -> None:
        """Resync forever, every RESYNC_SECONDS (read each time, so tests can shorten it)."""
        while True:
            await asyncio.sleep(stockwire_settings.RESYNC_SECONDS)
            try:
                await self.once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "resync failed; trying again in %s s", stockwire_settings.RESYNC_SECONDS
                )

    async def once(self) -> None:
        items = self._subscribers.watched_items()
        if not items:
            return
        try:
            levels = await database_sync_to_async(stock.levels)(items)
        except DATABASE_ERRORS as error:
            # Logged once per outage; open sockets keep their pushes meanwhile.
            if not self._database_failing:
                logger.warning("database unreachable; resync paused: %s", error)
            self._database_failing = True
            return
        if self._database_failing:
            logger.warning("database reachable again; resync resumed")
            self._database_failing = False
        for item, level in levels.items():
            if self._subscribers.is_newer(item, level.version):
                self._subscribers.stock_changed(messages.stock_changed(item, *level))
