"""Time and size limits on request heads: uvicorn's httptools protocol, with what it lacks.
The server names it: `http="config.http:HttpToolsProtocol"` (config/server.py).

uvicorn bounds neither the time nor the size of a request head. Its only timer is keep-alive,
armed after a response and cancelled by any byte, so a client that sends nothing, or a header a
byte at a time, holds its connection forever (slowloris); and httptools buffers a head of any
size (h11's h11_max_incomplete_event_size has no httptools counterpart). This protocol:

- closes a connection whose head is not complete HEADER_TIMEOUT_SECONDS after it opened, or,
  on a kept-alive connection, after the next head's first bytes came without its end;
- answers 431 and closes when a head is over MAX_HEAD_BYTES or MAX_HEADERS fields, for HTTP
  requests and WebSocket handshakes alike (uvicorn hands a handshake on only once its head
  is complete), and as soon as an unfinished head is over MAX_HEAD_BYTES.

A usual head comes in one read: it arms no timer (a connection's first is armed at connect)
and sums nothing (the read's size bounds it), so the checks are a few attribute updates per
request. data_received replaces uvicorn 0.54's (pyproject.toml pins uvicorn below 0.55).
"""

import os

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as UvicornHttpToolsProtocol

# A head must be complete this long after the connection opened (or its first bytes came, on a
# kept-alive connection). A browser sends its head at once; 30 s leaves a slow mobile link room
# and frees a slowloris connection within the same half minute as nginx's client_header_timeout.
HEADER_TIMEOUT_SECONDS = float(os.environ.get("HEADER_TIMEOUT_SECONDS", 30))

# The request line and header fields of one request. Browsers' heads are a few KiB (cookies
# included); nginx in front refuses anything over 32 KiB; beyond 64 KiB is an attack, which
# would otherwise make every byte it sends cost the server memory.
MAX_HEAD_BYTES = 64 * 1024

# Header fields of one request: browsers send about 20, proxies add a few.
MAX_HEADERS = 100

HEAD_TOO_LARGE = orjson.dumps(
    {
        "error": "request_header_fields_too_large",
        "detail": f"Request heads are limited to {MAX_HEAD_BYTES} bytes and {MAX_HEADERS} fields.",
    }
)


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing the rest of the read."""


class HttpToolsProtocol(UvicornHttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.head_timer = None
        self.in_head = False  # a head has begun and is not complete
        self.head_bytes = 0  # bytes of the unfinished head in reads before this one
        self.read_size = 0  # bytes in the read being parsed

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.head_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self.head_timed_out)

    def connection_lost(self, exc) -> None:
        if self.head_timer is not None:
            self.cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with a refusal of our own and the unfinished head counted after the read."""
        self._unset_keepalive_if_required()
        self.read_size = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            if isinstance(error.__context__, HeadTooLarge):
                self.refuse_head()
                return
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.in_head:  # the head goes on in a later read
            self.head_bytes += self.read_size
            if self.head_bytes > MAX_HEAD_BYTES:
                self.refuse_head()
            elif self.head_timer is None:
                self.head_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self.head_timed_out)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.head_timer is not None:
            self.cancel_head_timer()
        if len(self.headers) > MAX_HEADERS or (
            # Reads hold at least the head; only a head that may be too large is summed.
            self.head_bytes + self.read_size > MAX_HEAD_BYTES and self.head_size() > MAX_HEAD_BYTES
        ):
            raise HeadTooLarge
        self.head_bytes = 0
        super().on_headers_complete()

    def head_size(self) -> int:
        """The head's bytes as sent, give or take the method, version and optional spaces."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def refuse_head(self) -> None:
        self.logger.warning(
            "Request head refused: over %d bytes or %d fields.", MAX_HEAD_BYTES, MAX_HEADERS
        )
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(HEAD_TOO_LARGE),
                b"connection: close\r\n\r\n",
                HEAD_TOO_LARGE,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()

    def head_timed_out(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def cancel_head_timer(self) -> None:
        self.head_timer.cancel()
        self.head_timer = None
