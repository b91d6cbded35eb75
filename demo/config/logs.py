"""Logging filters of the demo's settings (LOGGING): imported before Django's apps are ready,
so nothing here imports them."""

import logging


class SkipDatabaseUnavailable(logging.Filter):
    """Keeps Django's traceback of a 503 out of the log: an outage fails every request the
    same way, and config.views.server_error logs each as one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 503
