"""The frame writer: uvicorn's sans-I/O WebSocket protocol with the one shortcut Stockwire's
fan-out needs. Optional (the `uvicorn` extra): `uvicorn --ws stockwire.uvicorn:WebSocketProtocol`.

A stock change goes to thousands of sockets as the same frame. Through ASGI, each socket
costs two coroutines, and uvicorn frames the text again for each (encode, build a frame,
serialize, join). This protocol offers the application an ASGI extension instead,
`scope["extensions"]["stockwire.write_frame"]["write"]`: a plain function that writes an
event's frame straight to the socket, framing it once for every socket the event goes to,
and answers False, writing nothing, whenever uvicorn's own path is needed (the handshake is
not done, the socket is closing or paused, the connection is compressed). The application
then sends the ASGI way. Under any other server the extension is absent and nothing changes.

The protocol also lets go of the handshake's request and response once the socket is open:
uvicorn keeps both, with their headers, for the life of the connection.
"""

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from .outbox import WRITE_FRAME_EXTENSION

# Where an event keeps its frame as it goes on the wire (a final, unmasked, uncompressed text
# frame) once the first socket's writer has framed it.
ENCODED_FRAME = "stockwire.encoded_frame"


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # the handshake goes on: the scope is made, the app not run yet
            self.scope["extensions"][WRITE_FRAME_EXTENSION] = {"write": self.write_frame}

    def write_frame(self, event: dict) -> bool:
        if (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.conn.extensions
        ):
            frame = event.get(ENCODED_FRAME)
            if frame is None:
                frame = Frame(Opcode.TEXT, event["text"].encode()).serialize(mask=False)
                event[ENCODED_FRAME] = frame
            self.transport.write(frame)
            return True
        return False

    async def send(self, message) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.request = self.response = None
