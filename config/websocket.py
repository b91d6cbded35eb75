"""uvicorn's sans-I/O WebSocket protocol, with the one shortcut Stockwire's fan-out needs.

A stock change goes to thousands of sockets as the same frame. Through ASGI, each socket
costs two coroutines, and uvicorn frames the text again for each (encode, build a frame,
serialize, join). This protocol offers the application an ASGI extension instead,
`scope["extensions"]["stockwire.write_frame"]["write"]`: a plain function that writes a frame
the application encoded once (`realtime.outbox.ENCODED_FRAME`) straight to the socket, and
answers False, writing nothing, whenever uvicorn's own path is needed (the handshake is not
done, the socket is closing or paused, the connection is compressed). The application then
sends the ASGI way. Under any other ASGI server the extension is absent and nothing changes.

The protocol also lets go of the handshake's request and response once the socket is open:
uvicorn keeps both, with their headers, for the life of the connection.
"""

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from realtime.outbox import WRITE_FRAME_EXTENSION


class StockwireWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # the handshake goes on: the scope is made, the app not run yet
            self.scope["extensions"][WRITE_FRAME_EXTENSION] = {"write": self.write_frame}

    def write_frame(self, frame: bytes) -> bool:
        if (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.conn.extensions
        ):
            self.transport.write(frame)
            return True
        return False

    async def send(self, message) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.request = self.response = None
