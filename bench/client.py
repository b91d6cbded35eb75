"""Minimal WebSocket and HTTP/1.1 clients as asyncio Protocols, for the load generator.

Thousands of sockets each receiving every change make the client's per-message cost the
limit of the measurement; these parse only frame headers and hand the payload on, with no
per-socket task. `python -m bench --client websockets` runs the same load with the
`websockets` library instead, to compare.
"""

import asyncio
import base64
import hashlib
import os
import time

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CLOSE_NORMAL = 1000


def _mask(payload: bytes) -> bytes:
    """The 4-byte key and the payload XORed with it (RFC 6455 5.3: every client frame)."""
    key = os.urandom(4)
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return key + (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + _mask(payload)


class WebSocketProtocol(asyncio.Protocol):
    """One client socket; calls `on_text(payload: bytes)` for each text message."""

    def __init__(self, host: str, port: int, path: str, on_text, on_close=None):
        self._request_target = (host, port, path)
        self._key = base64.b64encode(os.urandom(16))
        self._on_text = on_text
        self._on_close = on_close
        self._buffer = b""
        self._fragments: list[bytes] | None = None
        self._fragment_op = 0
        self.transport: asyncio.Transport | None = None
        self.open: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed = False
        self.close_code: int | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        host, port, path = self._request_target
        transport.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        if not self.open.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            self._handshake(buffer[:end])
            buffer = buffer[end + 4 :]
        self._buffer = self._frames(buffer)

    def _handshake(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest())
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in lines[1:])
        }
        if (
            not lines[0].startswith(b"HTTP/1.1 101")
            or headers.get(b"sec-websocket-accept") != accept
        ):
            self.open.set_exception(ConnectionError(f"handshake refused: {head!r}"))
            self.transport.close()
            return
        self.open.set_result(self)

    def _frames(self, buffer: bytes) -> bytes:
        """Handle every complete frame in `buffer`; return the incomplete rest."""
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            b0, b1 = buffer[pos], buffer[pos + 1]
            length, start = b1 & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), pos + 10
            end = start + length
            if end > size:
                break
            if b1 & 0x80:  # servers never mask (RFC 6455 5.1)
                self.abort()
                return b""
            self._frame(b0 & 0x80, b0 & 0x0F, buffer[start:end])
            pos = end
        return buffer[pos:]

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == 1 and fin:
            self._on_text(payload)
        elif opcode == 9:
            self._write(client_frame(10, payload))
        elif opcode == 8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._write(client_frame(8, payload[:2]))
            self.transport.close()
        elif opcode in (1, 2):  # the first fragment of a message (or a whole binary one)
            self._fragments, self._fragment_op = [payload], opcode
            self._complete(fin)
        elif opcode == 0 and self._fragments is not None:
            self._fragments.append(payload)
            self._complete(fin)

    def _complete(self, fin: int) -> None:
        if fin:
            whole, self._fragments = b"".join(self._fragments), None
            if self._fragment_op == 1:
                self._on_text(whole)

    def _write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def send_text(self, text: str) -> None:
        self._write(client_frame(1, text.encode()))

    def close(self) -> None:
        """Send a close frame and drop the connection without waiting for the echo."""
        if not self.closed:
            self._write(client_frame(8, _CLOSE_NORMAL.to_bytes(2, "big")))
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.open.done():
            self.open.set_exception(exc or ConnectionError("closed during handshake"))
        if self._on_close is not None:
            self._on_close(self)


async def connect_ws(host: str, port: int, path: str, on_text, on_close=None) -> WebSocketProtocol:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: WebSocketProtocol(host, port, path, on_text, on_close), host, port
    )
    return await protocol.open


class LibraryWebSocket:
    """The same interface over a `websockets` client connection, to compare the two clients."""

    def __init__(self, connection, on_text, on_close):
        self._connection = connection
        self.closed = False
        self.close_code = None
        self._task = asyncio.get_running_loop().create_task(self._read(on_text, on_close))

    async def _read(self, on_text, on_close) -> None:
        try:
            async for message in self._connection:
                on_text(message.encode() if isinstance(message, str) else message)
        except Exception:
            pass
        finally:
            self.closed = True
            self.close_code = self._connection.close_code
            if on_close is not None:
                on_close(self)

    def send_text(self, text: str) -> None:
        asyncio.get_running_loop().create_task(self._connection.send(text))

    def close(self) -> None:
        self._connection.transport.close()
        self._task.cancel()

    abort = close


async def connect_library_ws(host, port, path, on_text, on_close=None) -> LibraryWebSocket:
    from websockets.asyncio.client import connect

    connection = await connect(
        f"ws://{host}:{port}{path}", compression=None, open_timeout=30, ping_interval=None,
        max_queue=None,
    )  # fmt: skip
    return LibraryWebSocket(connection, on_text, on_close)


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time; reconnects when closed.

    uvicorn closes idle keep-alive connections after 5 s by default: a request on a closed
    connection reconnects first.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.transport = None
        self._response: asyncio.Future | None = None
        self._buffer = b""
        self.reconnects = -1

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = ""):
        """(status, body bytes, perf_counter when the request was written)."""
        if self.transport is None or self.transport.is_closing():
            await asyncio.get_running_loop().create_connection(lambda: self, self.host, self.port)
            self.reconnects += 1
        sent = time.perf_counter()
        status, payload = await self.send(self.encode(method, path, body, headers))
        return status, payload, sent

    def encode(self, method: str, path: str, body: bytes = b"", headers: str = "") -> bytes:
        """One whole request, e.g. prepared ahead and written later by `send`."""
        return (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    def send(self, request: bytes) -> asyncio.Future:
        """Write an encoded request on the open connection; the future gives (status, body)."""
        self._response = asyncio.get_running_loop().create_future()
        self._buffer = b""
        self.transport.write(request)
        return self._response

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._response is None or self._response.done():
            return
        head = self._buffer[:end].split(b"\r\n")
        status = int(head[0].split()[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in head[1:])
        }
        body = self._buffer[end + 4 :]
        if headers.get(b"transfer-encoding") == b"chunked":
            if not body.endswith(b"0\r\n\r\n"):
                return
            body = _dechunk(body)
        elif len(body) < int(headers.get(b"content-length", b"0")):
            return
        if headers.get(b"connection") == b"close":
            self.transport.close()
        self._response.set_result((status, body))

    def connection_lost(self, exc) -> None:
        if self._response is not None and not self._response.done():
            self._response.set_exception(exc or ConnectionError("connection closed"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _dechunk(body: bytes) -> bytes:
    out, pos = [], 0
    while True:
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[line_end + 2 : line_end + 2 + size])
        pos = line_end + 2 + size + 2
