"""Property-based fuzzing of what a client can send (hypothesis, bounded examples)."""

import json

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.asgi import application
from stockwire.protocol import Action, Command, ErrorCode, ProtocolError, parse_command
from tests.conftest import access_token

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
item_ids = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), json_values)
commands = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["subscribe", "view", "unsubscribe", "ping", "buy", ""])
        | json_values
    },
    optional={"items": st.lists(item_ids, max_size=8) | json_values},
)
# The standard library's json can write integers beyond 64 bits; an attacker's client can too.
frames = st.one_of(st.text(max_size=200), json_values.map(json.dumps), commands.map(json.dumps))


@settings(max_examples=1500, deadline=None)
@given(frame=frames)
def test_every_frame_is_either_a_valid_command_or_a_named_error(frame):
    try:
        command = parse_command(frame)
    except ProtocolError as error:
        assert error.code in set(ErrorCode) and error.detail
        return
    assert isinstance(command, Command) and command.action in set(Action)
    assert all(type(item) is int and item >= 1 for item in command.items)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(frames, min_size=1, max_size=10))
def test_any_sequence_of_frames_gets_answers_and_leaves_the_socket_open(sequence, shopper, item):
    async_to_sync(_send_all)(sequence, access_token(shopper))


async def _send_all(sequence, token):
    socket = WebsocketCommunicator(
        application, f"/ws/stock/?token={token}", headers=[(b"host", b"testserver")]
    )
    connected, _ = await socket.connect()
    assert connected
    try:
        for frame in sequence:
            # send_input: the test client refuses an empty text frame; a real one does not.
            await socket.send_input({"type": "websocket.receive", "text": frame})
        answers = []
        while not await socket.receive_nothing(0.2):
            answers.append(await socket.receive_output())
        for output in answers:
            assert output["type"] == "websocket.send", output  # never a close
            message = orjson.loads(output["text"])
            assert message["type"] in {"hello", "stock", "presence", "error", "pong"}
            if message["type"] == "error":
                assert message["code"] in set(ErrorCode) and message["detail"]
        await socket.send_to(text_data='{"action": "ping"}')
        assert orjson.loads((await socket.receive_output(5))["text"]) == {"type": "pong"}
    finally:
        await socket.disconnect()
