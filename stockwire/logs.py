"""Keep credentials out of the logs.

uvicorn logs each WebSocket handshake with its query string, where `?token=` travels; this
filter cuts the query string from every path it logs.
"""

import logging


class DropQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


def _without_query(arg):
    if isinstance(arg, str) and arg.startswith("/") and "?" in arg:
        return arg.split("?", 1)[0]
    return arg
