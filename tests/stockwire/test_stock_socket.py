"""The /ws/stock/ protocol through Channels' WebsocketCommunicator and the in-memory layer."""

import asyncio
import time
from datetime import timedelta

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db.models import F
from prometheus_client import REGISTRY
from rest_framework_simplejwt.tokens import AccessToken

from config.asgi import application
from shop.models import Item
from stockwire import topics
from stockwire.conf import DEFAULTS
from tests.conftest import access_token, api_client
from tests.stockwire.conftest import intercept_group_sends

pytestmark = pytest.mark.django_db(transaction=True)


async def receive(socket, wait=2):
    return orjson.loads(await socket.receive_from(wait))


async def send(socket, message):
    await socket.send_to(
        text_data=message if isinstance(message, str) else orjson.dumps(message).decode()
    )


async def subscribed(socket, *items):
    """Subscribe and return the snapshot messages, by item id."""
    await send(socket, {"action": "subscribe", "items": list(items)})
    return {message["item"]: message for message in [await receive(socket) for _ in items]}


@sync_to_async
def purchase_through_api(user, item, quantity=1):
    response = api_client(user).post(
        f"/api/items/{item.pk}/purchase", {"quantity": quantity}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


@sync_to_async
def restock_through_api(user, item, quantity):
    response = api_client(user).post(
        f"/api/items/{item.pk}/restock", {"quantity": quantity}, format="json"
    )
    assert response.status_code == 200, response.content


async def assert_closed_with(socket, code):
    assert await socket.receive_output(2) == {"type": "websocket.close", "code": code}


# Connecting


async def test_hello_names_the_user_and_the_reconnect_backoff_the_server_wants(
    sockets, shopper, settings
):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "RECONNECT_CAP_MS": 60000}
    socket = await sockets(user=shopper)
    assert await receive(socket) == {
        "type": "hello",
        "user": {"id": shopper.pk, "username": "alice"},
        "reconnect": {"base_ms": 500, "cap_ms": 60000},
        "max_subscriptions": 200,
    }


@pytest.fixture
def joins_held(monkeypatch):
    """The channel layer, with the hub's join of `group` made but its answer held.

    The window of a socket still connecting: the hub is in the group, so what is published
    to it reaches the hub, but the socket has not been accepted yet.
    """
    layer = get_channel_layer()
    group_add = layer.group_add
    joined, release = asyncio.Event(), asyncio.Event()
    held: list[str] = []

    async def held_group_add(group, channel):
        await group_add(group, channel)
        if group in held:
            joined.set()
            await release.wait()

    monkeypatch.setattr(layer, "group_add", held_group_add)

    def hold(group: str):
        held.append(group)
        return joined, release

    return hold


async def fanned_out_after(kind: str, count: float) -> None:
    """Wait until this process's hub has handed more than `count` messages of `kind` on."""
    deadline = time.monotonic() + 2
    while fanned_out(kind) <= count:
        assert time.monotonic() < deadline, f"the hub fanned out no {kind} message"
        await asyncio.sleep(0.01)


def fanned_out(kind: str) -> float:
    sample = "stockwire_messages_fanned_out_total"
    return REGISTRY.get_sample_value(sample, {"kind": kind}) or 0


async def first_two_messages_of_a_socket_connecting_across_a_purchase(
    hold, path, group, shopper, item
):
    """Open a socket whose join of `group` is held while a purchase is published to it: a
    real server refuses a send before the accept, and the socket would go silent."""
    joined, release = hold(group)
    socket = WebsocketCommunicator(
        application, f"{path}?token={access_token(shopper)}", headers=[(b"host", b"testserver")]
    )
    connecting = asyncio.create_task(socket.connect())
    await asyncio.wait_for(joined.wait(), 2)
    events = fanned_out("event")
    await purchase_through_api(shopper, item)
    await fanned_out_after("event", events)
    release.set()
    try:
        assert await connecting == (True, None)
        return await receive(socket), await receive(socket)
    finally:
        await socket.disconnect()


async def test_an_order_published_while_a_socket_connects_comes_after_its_hello(
    joins_held, shopper, item
):
    first, then = await first_two_messages_of_a_socket_connecting_across_a_purchase(
        joins_held, "/ws/stock/", topics.user_topic(shopper.pk), shopper, item
    )
    assert (first["type"], then["type"]) == ("hello", "order")


async def test_an_update_count_published_while_a_legacy_socket_connects_comes_after_grouped(
    joins_held, shopper, item
):
    first, then = await first_two_messages_of_a_socket_connecting_across_a_purchase(
        joins_held, "/notification/count", topics.LEGACY, shopper, item
    )
    assert first == {"grouped": str(shopper.pk)}
    assert then == {"text": "UPDATE_COUNT", "item": item.pk}


async def test_a_socket_without_credentials_is_closed_with_4401(sockets):
    await assert_closed_with(await sockets(), 4401)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
async def test_a_socket_with_a_bad_token_is_closed_with_4401(sockets, token):
    await assert_closed_with(await sockets(path=f"/ws/stock/?token={token}"), 4401)


async def test_an_expired_token_is_closed_with_4401(sockets, shopper):
    token = AccessToken.for_user(shopper)
    token.set_exp(lifetime=-timedelta(seconds=1))
    await assert_closed_with(await sockets(token=str(token)), 4401)


async def test_a_token_without_origin_is_allowed_for_scripts_and_apps(sockets, shopper):
    socket = await sockets(user=shopper, origin=None)
    assert (await receive(socket))["type"] == "hello"


async def test_a_foreign_origin_is_refused_even_with_a_valid_token(sockets, shopper):
    await assert_closed_with(await sockets(user=shopper, origin=b"https://evil.example"), 4403)


@sync_to_async
def session_cookie(client, user):
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def test_the_session_cookie_authenticates_a_socket_from_our_own_origin(
    sockets, shopper, client
):
    socket = await sockets(cookie=await session_cookie(client, shopper))
    assert (await receive(socket))["user"]["username"] == "alice"


@pytest.mark.parametrize(
    "origin",
    [
        b"http://testserver:8000",  # our host, another port: another site
        b"https://testserver",  # another scheme
        b"http://evil.testserver",
        b"http://[",  # malformed: refused, never a server error
        b"http://testserver:99999",
        b"null",
        b"javascript:alert(1)",
        b"http://testserver/path",
    ],
)
async def test_a_cookie_socket_from_any_origin_but_exactly_ours_is_refused(
    sockets, shopper, client, origin
):
    cookie = await session_cookie(client, shopper)
    await assert_closed_with(await sockets(cookie=cookie, origin=origin), 4403)


async def test_a_host_wildcard_never_makes_a_foreign_origin_ours(
    sockets, shopper, client, settings
):
    settings.ALLOWED_HOSTS = ["*"]
    cookie = await session_cookie(client, shopper)
    await assert_closed_with(await sockets(cookie=cookie, origin=b"https://evil.example"), 4403)
    assert (await receive(await sockets(cookie=cookie)))["type"] == "hello"


async def test_origins_the_shop_trusts_for_csrf_may_open_cookie_sockets(
    sockets, shopper, client, settings
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://shop.example", "https://*.cdn.example"]
    cookie = await session_cookie(client, shopper)
    for origin in (b"https://shop.example", b"https://eu.cdn.example"):
        assert (await receive(await sockets(cookie=cookie, origin=origin)))["type"] == "hello"
    await assert_closed_with(await sockets(cookie=cookie, origin=b"http://shop.example"), 4403)


async def test_stockwires_own_allowed_origins_replace_the_csrf_ones(
    sockets, shopper, client, settings
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://shop.example"]
    settings.STOCKWIRE = {**settings.STOCKWIRE, "ALLOWED_ORIGINS": ["https://app.example"]}
    cookie = await session_cookie(client, shopper)
    assert (await receive(await sockets(cookie=cookie, origin=b"https://app.example")))[
        "type"
    ] == "hello"
    await assert_closed_with(await sockets(cookie=cookie, origin=b"https://shop.example"), 4403)


@pytest.mark.parametrize("host", [b"evil.example", b"", b"testserver:99999x"])
async def test_a_handshake_for_a_host_the_shop_does_not_serve_is_refused(host, shopper):
    """The Host is checked as Django checks an HTTP request's, before any credential."""
    headers = [(b"host", host)] if host else []
    socket = WebsocketCommunicator(
        application, f"/ws/stock/?token={access_token(shopper)}", headers=headers
    )
    assert await socket.connect() == (True, None)
    try:
        assert await socket.receive_output(2) == {"type": "websocket.close", "code": 4403}
    finally:
        await socket.disconnect()


async def test_a_token_socket_from_a_foreign_origin_is_refused_too(sockets, shopper):
    await assert_closed_with(await sockets(user=shopper, origin=b"http://testserver:8000"), 4403)


async def test_a_session_cookie_from_a_foreign_origin_is_refused(sockets, shopper, client):
    cookie = await session_cookie(client, shopper)
    await assert_closed_with(await sockets(cookie=cookie, origin=b"https://evil.example"), 4403)


async def test_a_session_cookie_without_origin_is_refused(sockets, shopper, client):
    await assert_closed_with(
        await sockets(cookie=await session_cookie(client, shopper), origin=None), 4403
    )


async def test_a_session_cookie_that_is_not_logged_in_is_4401(sockets):
    await assert_closed_with(await sockets(cookie="sessionid=doesnotexist"), 4401)


async def test_an_unknown_path_is_closed_with_4404(sockets, shopper):
    await assert_closed_with(await sockets(path="/ws/nothing/", user=shopper), 4404)


# Subscribing and live updates


async def test_subscribe_answers_with_a_snapshot_per_item(sockets, shopper, item, other_item):
    socket = await sockets(user=shopper)
    await receive(socket)
    snapshot = await subscribed(socket, item.pk, other_item.pk)
    assert snapshot == {
        item.pk: {
            "type": "stock",
            "item": item.pk,
            "quantity": 10,
            "on_hand": 10,
            "held": 0,
            "version": 1,
        },
        other_item.pk: {
            "type": "stock",
            "item": other_item.pk,
            "quantity": 3,
            "on_hand": 3,
            "held": 0,
            "version": 1,
        },
    }


async def test_subscribe_to_unknown_items_names_them_and_keeps_the_known_ones(
    sockets, shopper, item
):
    socket = await sockets(user=shopper)
    await receive(socket)
    await send(socket, {"action": "subscribe", "items": [item.pk, 4242]})
    assert (await receive(socket))["item"] == item.pk
    error = await receive(socket)
    assert (error["type"], error["code"], error["items"]) == ("error", "unknown_item", [4242])


async def test_a_purchase_reaches_every_subscriber_and_no_one_else(
    sockets, shopper, other_shopper, item, other_item
):
    watchers = [await sockets(user=shopper), await sockets(user=other_shopper)]
    bystander = await sockets(user=other_shopper)
    for socket in watchers:
        await receive(socket)
        await subscribed(socket, item.pk)
    await receive(bystander)
    await subscribed(bystander, other_item.pk)

    await purchase_through_api(shopper, item, quantity=3)

    update = {
        "type": "stock",
        "item": item.pk,
        "quantity": 7,
        "on_hand": 7,
        "held": 0,
        "version": 2,
    }
    assert await receive(watchers[1]) == update
    messages = [await receive(watchers[0]), await receive(watchers[0])]
    assert update in messages  # the buyer also gets the order message
    assert await bystander.receive_nothing(0.3)


async def test_the_buyer_gets_the_order_on_every_socket_and_others_do_not(
    sockets, shopper, other_shopper, item
):
    buyer_tabs = [await sockets(user=shopper), await sockets(user=shopper)]
    other = await sockets(user=other_shopper)
    for socket in [*buyer_tabs, other]:
        await receive(socket)

    body = await purchase_through_api(shopper, item, quantity=2)

    for socket in buyer_tabs:
        message = await receive(socket)
        assert message["type"] == "order"
        assert message["order"]["id"] == body["order"]["id"]
        assert {
            k: message["order"][k] for k in ("item", "item_name", "quantity", "unit_price")
        } == {
            "item": item.pk,
            "item_name": "Keyboard",
            "quantity": 2,
            "unit_price": "89.00",
        }
    assert await other.receive_nothing(0.3)


async def test_a_restock_reaches_subscribers_with_the_next_version(sockets, shopper, staff, item):
    socket = await sockets(user=shopper)
    await receive(socket)
    await subscribed(socket, item.pk)
    await restock_through_api(staff, item, 5)
    assert await receive(socket) == {
        "type": "stock",
        "item": item.pk,
        "quantity": 15,
        "on_hand": 15,
        "held": 0,
        "version": 2,
    }


async def test_unsubscribe_stops_updates(sockets, shopper, staff, item):
    socket = await sockets(user=shopper)
    await receive(socket)
    await subscribed(socket, item.pk)
    await send(socket, {"action": "unsubscribe", "items": [item.pk]})
    await send(socket, {"action": "ping"})
    assert await receive(socket) == {"type": "pong"}

    await restock_through_api(staff, item, 5)
    assert await socket.receive_nothing(0.3)


async def test_ping_is_answered_with_pong(sockets, shopper):
    socket = await sockets(user=shopper)
    await receive(socket)
    await send(socket, {"action": "ping"})
    assert await receive(socket) == {"type": "pong"}


async def test_watching_more_items_than_the_limit_is_refused(sockets, shopper):
    socket = await sockets(user=shopper)
    await receive(socket)
    await send(
        socket, {"action": "subscribe", "items": list(range(1, DEFAULTS["MAX_SUBSCRIPTIONS"] + 2))}
    )
    error = await receive(socket)
    assert (error["code"], error["limit"]) == (
        "too_many_subscriptions",
        DEFAULTS["MAX_SUBSCRIPTIONS"],
    )


# Bad input: an error with a code, and the connection stays open


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('"subscribe"', "invalid_message"),
        ('{"items": [1]}', "unknown_action"),
        ('{"action": "buy_everything"}', "unknown_action"),
        ('{"action": ["subscribe"]}', "unknown_action"),
        ('{"action": "subscribe"}', "invalid_items"),
        ('{"action": "subscribe", "items": []}', "invalid_items"),
        ('{"action": "subscribe", "items": 1}', "invalid_items"),
        ('{"action": "subscribe", "items": [0]}', "invalid_items"),
        ('{"action": "subscribe", "items": [-4]}', "invalid_items"),
        ('{"action": "subscribe", "items": ["1"]}', "invalid_items"),
        ('{"action": "subscribe", "items": [1.0]}', "invalid_items"),
        ('{"action": "subscribe", "items": [1.5]}', "invalid_items"),
        ('{"action": "subscribe", "items": [null]}', "invalid_items"),
        ('{"action": "subscribe", "items": [true]}', "invalid_items"),
        (f'{{"action": "subscribe", "items": [{2**70}]}}', "invalid_items"),
        ('{"action": "unsubscribe", "items": [{}]}', "invalid_items"),
    ],
)
async def test_bad_input_gets_an_error_code_and_the_socket_stays_open(
    sockets, shopper, frame, code
):
    socket = await sockets(user=shopper)
    await receive(socket)
    await send(socket, frame)
    error = await receive(socket)
    assert (error["type"], error["code"]) == ("error", code)
    assert error["detail"]
    await send(socket, {"action": "ping"})
    assert await receive(socket) == {"type": "pong"}


async def test_a_binary_frame_gets_an_error_code(sockets, shopper):
    socket = await sockets(user=shopper)
    await receive(socket)
    await socket.send_to(bytes_data=b'{"action": "ping"}')
    assert (await receive(socket))["code"] == "binary_not_supported"


# The legacy protocol


async def test_legacy_endpoint_says_grouped_then_update_count_on_any_change(
    sockets, shopper, item, other_item
):
    socket = await sockets(path="/notification/count", user=shopper, origin=None)
    assert await receive(socket) == {"grouped": str(shopper.pk)}

    await purchase_through_api(shopper, other_item)
    assert await receive(socket) == {"text": "UPDATE_COUNT", "item": other_item.pk}


async def test_legacy_endpoint_without_token_is_closed_with_4401(sockets):
    await assert_closed_with(await sockets(path="/notification/count"), 4401)


async def test_a_flood_on_the_legacy_endpoint_closes_it_with_4429_too(sockets, shopper):
    socket = await sockets(path="/notification/count", user=shopper)
    assert orjson.loads(await socket.receive_from(2)) == {"grouped": str(shopper.pk)}
    for _ in range(DEFAULTS["MESSAGE_BURST"] + 20):
        await socket.send_to(text_data="ignored")
    assert await socket.receive_output(2) == {"type": "websocket.close", "code": 4429}


# Bounded staleness


async def test_a_change_nobody_published_still_reaches_subscribers_through_the_resync(
    sockets, shopper, item, settings
):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "RESYNC_SECONDS": 0.3}
    socket = await sockets(user=shopper)
    await receive(socket)
    await subscribed(socket, item.pk)

    # A bulk update of the shop's own (or a message lost on the way): nothing is published.
    await sync_to_async(Item.objects.filter(pk=item.pk).update)(
        quantity=15, version=F("version") + 1
    )

    assert await receive(socket) == {
        "type": "stock",
        "item": item.pk,
        "quantity": 15,
        "on_hand": 15,
        "held": 0,
        "version": 2,
    }


async def test_a_change_whose_message_the_layer_lost_still_reaches_subscribers(
    sockets, shopper, staff, item, settings, monkeypatch
):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "RESYNC_SECONDS": 0.3}
    socket = await sockets(user=shopper)
    await receive(socket)
    await subscribed(socket, item.pk)

    # The change commits, but its messages are lost on the way (a full inbox, Redis away).
    async def lost(group, message):
        return False

    intercept_group_sends(monkeypatch, lost)
    await restock_through_api(staff, item, 5)

    assert await receive(socket) == {
        "type": "stock",
        "item": item.pk,
        "quantity": 15,
        "on_hand": 15,
        "held": 0,
        "version": 2,
    }


async def test_a_flood_of_messages_closes_the_socket_with_4429_and_spares_the_others(
    sockets, shopper, staff, item
):
    flooder, bystander = await sockets(user=shopper), await sockets(user=shopper)
    for socket in (flooder, bystander):
        await receive(socket)
    await subscribed(bystander, item.pk)

    for _ in range(DEFAULTS["MESSAGE_BURST"] + 20):
        await send(flooder, {"action": "ping"})
    answers = []
    while (output := await flooder.receive_output(2))["type"] != "websocket.close":
        answers.append(output)
    assert output["code"] == 4429
    assert len(answers) <= DEFAULTS["MESSAGE_BURST"]

    await restock_through_api(staff, item, 1)
    assert (await receive(bystander))["version"] == 2
