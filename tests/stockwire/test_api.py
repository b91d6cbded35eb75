"""Stockwire's public API (stockwire/__init__.py) on the demo's Item model, as a shop calls it."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

import stockwire
from shop.models import Item
from stockwire import topics
from tests.stockwire.conftest import intercept_group_sends

pytestmark = pytest.mark.django_db(transaction=True)


async def receive(socket, wait=2):
    return json.loads(await socket.receive_from(wait))


async def watching(sockets, item, **credentials):
    """A socket subscribed to `item`, its hello and snapshot read."""
    socket = await sockets(**credentials)
    assert (await receive(socket))["type"] == "hello"
    await socket.send_to(text_data=json.dumps({"action": "subscribe", "items": [item.pk]}))
    assert (await receive(socket))["type"] == "stock"
    return socket


@pytest.fixture
def sent_groups(monkeypatch):
    """The groups the channel layer is asked to send to, in order."""
    sent: list[str] = []

    async def recorded(group, message):
        sent.append(group)
        return True

    intercept_group_sends(monkeypatch, recorded)
    return sent


def test_take_sells_units_and_moves_quantity_and_version_together(item):
    assert stockwire.take(item.pk, 3) == stockwire.Stock(on_hand=7, held=0, version=2)
    item.refresh_from_db()
    assert (item.quantity, item.version) == (7, 2)


def test_take_never_sells_more_than_is_left_and_says_how_many_are(item):
    with pytest.raises(stockwire.OutOfStock) as refused:
        stockwire.take(item.pk, 11)
    assert (refused.value.available, refused.value.requested) == (10, 11)
    item.refresh_from_db()
    assert (item.quantity, item.version) == (10, 1)


def test_a_sale_is_refused_from_a_stock_seen_with_too_few_units_without_a_statement(item):
    seen = stockwire.Stock(on_hand=3, held=1, version=7)
    with (
        CaptureQueriesContext(connection) as captured,
        pytest.raises(stockwire.OutOfStock) as refused,
    ):
        stockwire.check_available(item.pk, 3, seen)
    assert captured.captured_queries == []
    assert (refused.value.available, refused.value.requested) == (2, 3)


def test_a_stock_seen_with_enough_units_lets_take_decide_from_the_row(item):
    Item.objects.filter(pk=item.pk).update(quantity=1, version=F("version") + 1)
    stockwire.check_available(item.pk, 2, stockwire.Stock(on_hand=10, held=0, version=1))
    with pytest.raises(stockwire.OutOfStock) as refused:
        stockwire.take(item.pk, 2)
    assert refused.value.available == 1


def test_take_and_give_of_an_item_that_does_not_exist_raise_unknown_item(db):
    with pytest.raises(stockwire.UnknownItem):
        stockwire.take(987654, 1)
    with pytest.raises(stockwire.UnknownItem):
        stockwire.give(987654, 1)


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5, "2"])
def test_take_and_give_refuse_a_quantity_that_is_not_a_positive_whole_number(item, quantity):
    with pytest.raises(ValueError):
        stockwire.take(item.pk, quantity)
    with pytest.raises(ValueError):
        stockwire.give(item.pk, quantity)


def test_give_restocks_and_grows_the_version(item):
    assert stockwire.give(item.pk, 5) == stockwire.Stock(on_hand=15, held=0, version=2)


def test_many_buyers_of_the_last_units_at_once_never_oversell(item):
    def buy() -> bool:
        try:
            stockwire.take(item.pk, 1)
            return True
        except stockwire.OutOfStock:
            return False
        finally:
            close_old_connections()

    with ThreadPoolExecutor(8) as pool:
        sold = sum(pool.map(lambda _: buy(), range(25)))

    item.refresh_from_db()
    assert (sold, item.quantity, item.version) == (10, 0, 11)


def test_a_change_inside_the_callers_transaction_is_published_when_it_commits(item, sent_groups):
    with transaction.atomic():
        stockwire.take(item.pk, 1)
        assert sent_groups == []
    assert sent_groups == [topics.item_topic(item.pk), topics.LEGACY]


def test_a_change_rolled_back_with_the_callers_transaction_is_neither_kept_nor_published(
    item, sent_groups
):
    with pytest.raises(RuntimeError), transaction.atomic():
        stockwire.take(item.pk, 1)
        raise RuntimeError("the order could not be saved")
    item.refresh_from_db()
    assert (item.quantity, sent_groups) == (10, [])


async def test_publish_stock_tells_watchers_of_a_change_made_the_shops_own_way(
    sockets, shopper, item
):
    socket = await watching(sockets, item, user=shopper)

    @sync_to_async
    def bulk_update_and_publish():
        with transaction.atomic():
            Item.objects.filter(pk=item.pk).update(quantity=3, version=F("version") + 1)
            stockwire.publish_stock(item.pk, 3, 2)

    await bulk_update_and_publish()
    assert await receive(socket) == {
        "type": "stock",
        "item": item.pk,
        "quantity": 3,
        "on_hand": 3,
        "held": 0,
        "version": 2,
    }


async def test_notify_user_reaches_every_socket_of_that_user_and_no_one_else(
    sockets, shopper, other_shopper, item
):
    tabs = [await sockets(user=shopper) for _ in range(2)]
    stranger = await sockets(user=other_shopper)
    for socket in (*tabs, stranger):
        assert (await receive(socket))["type"] == "hello"

    await sync_to_async(stockwire.notify_user)(shopper.pk, {"type": "note", "text": "Shipped"})

    for socket in tabs:
        assert await receive(socket) == {"type": "note", "text": "Shipped"}
    assert await stranger.receive_nothing(0.3)


@pytest.mark.parametrize(
    "message", [{"text": "no type"}, {"type": 7}, {"type": "stock", "item": 1}, "text"]
)
def test_notify_user_refuses_a_message_without_a_type_of_the_shops_own(message):
    with pytest.raises(ValueError):
        stockwire.notify_user(1, message)


def warehouse_levels(ids):
    """A SOURCE: stock kept elsewhere, here twice the demo's quantity (two warehouses)."""
    return {pk: (2 * quantity, version) for pk, quantity, version in
            Item.objects.filter(pk__in=ids).values_list("pk", "quantity", "version")}  # fmt: skip


async def test_a_source_decides_what_subscribers_see_and_what_the_resync_reads(
    sockets, shopper, item, settings
):
    settings.STOCKWIRE = {
        **settings.STOCKWIRE,
        "SOURCE": f"{__name__}.warehouse_levels",
        "RESYNC_SECONDS": 0.2,
    }
    socket = await sockets(user=shopper)
    assert (await receive(socket))["type"] == "hello"
    await socket.send_to(text_data=json.dumps({"action": "subscribe", "items": [item.pk]}))
    assert (await receive(socket))["quantity"] == 20

    await sync_to_async(Item.objects.filter(pk=item.pk).update)(quantity=4, version=2)
    assert await receive(socket) == {
        "type": "stock",
        "item": item.pk,
        "quantity": 8,
        "on_hand": 8,
        "held": 0,
        "version": 2,
    }


async def test_a_watcher_never_sees_a_version_go_back_even_when_published_out_of_order(
    sockets, shopper, item
):
    socket = await watching(sockets, item, user=shopper)
    # Three publications, the second older than the first: each its own trip through the
    # layer, so they may arrive in any order; a version older than one shown never is.
    for quantity, version in ((5, 3), (7, 2), (4, 4)):
        await sync_to_async(stockwire.publish_stock)(item.pk, quantity, version)
    seen = [(await receive(socket, wait=5))["version"]]
    while seen[-1] != 4:
        seen.append((await receive(socket, wait=5))["version"])
    assert seen == sorted(set(seen))
    assert await socket.receive_nothing(0.2)
