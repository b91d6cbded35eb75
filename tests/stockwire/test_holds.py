"""Holds through Stockwire's public API: units kept for one buyer, bought through the hold,
released, or returned by the sweep when the hold expires; never sold to someone else."""

import json
from datetime import timedelta
from functools import partial

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

import stockwire
from shop.models import Item
from stockwire import holds
from stockwire.models import Hold
from tests.races import at_once

pytestmark = pytest.mark.django_db(transaction=True)


async def receive(socket, wait=2):
    return json.loads(await socket.receive_from(wait))


def stock_of(item) -> stockwire.Stock:
    item.refresh_from_db()
    return stockwire.Stock(item.quantity, item.held, item.version)


def test_a_hold_moves_units_from_available_to_held(item, shopper):
    placed, after = stockwire.hold(item.pk, 3, user_id=shopper.pk)

    assert after == stockwire.Stock(on_hand=10, held=3, version=2) == stock_of(item)
    assert after.available == 7
    assert (placed.item_id, placed.user_id, placed.quantity) == (item.pk, shopper.pk, 3)
    assert placed.expires_at - timezone.now() > timedelta(seconds=590)


def test_a_hold_of_more_than_is_available_is_refused_and_changes_nothing(item, shopper, settings):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_LIMIT_PER_ITEM": 100}
    stockwire.hold(item.pk, 4, user_id=shopper.pk)

    with pytest.raises(stockwire.OutOfStock) as refused:
        stockwire.hold(item.pk, 7, user_id=shopper.pk)

    assert (refused.value.available, refused.value.requested) == (6, 7)
    assert stock_of(item) == (10, 4, 2)
    assert Hold.objects.count() == 1


def test_held_units_are_never_sold_to_anyone_else_and_always_to_their_buyer(
    item, shopper, other_shopper
):
    placed, _ = stockwire.hold(item.pk, 5, user_id=shopper.pk)

    with pytest.raises(stockwire.OutOfStock) as refused:
        stockwire.take(item.pk, 6)
    assert refused.value.available == 5
    assert stockwire.take(item.pk, 5) == (5, 5, 3)  # every unit not held
    assert stockwire.take(item.pk, 5, hold=placed.pk, user_id=shopper.pk) == (0, 0, 4)


def test_buying_part_of_a_hold_returns_the_rest(item, shopper):
    placed, _ = stockwire.hold(item.pk, 3, user_id=shopper.pk)

    after = stockwire.take(item.pk, 2, hold=placed.pk, user_id=shopper.pk)

    assert after == (8, 0, 3)
    placed.refresh_from_db()
    assert placed.state == Hold.State.PURCHASED


def test_a_hold_is_its_buyers_alone_and_for_its_item_alone(
    item, other_item, shopper, other_shopper
):
    placed, _ = stockwire.hold(item.pk, 2, user_id=shopper.pk)

    with pytest.raises(stockwire.UnknownHold):
        stockwire.take(item.pk, 1, hold=placed.pk, user_id=other_shopper.pk)
    with pytest.raises(stockwire.UnknownHold):
        stockwire.release(placed.pk, user_id=other_shopper.pk)
    with pytest.raises(stockwire.HoldMismatch):
        stockwire.take(other_item.pk, 1, hold=placed.pk, user_id=shopper.pk)
    with pytest.raises(stockwire.HoldMismatch):
        stockwire.take(item.pk, 3, hold=placed.pk, user_id=shopper.pk)
    assert stock_of(item) == (10, 2, 2)


def test_a_hold_ends_once_whichever_way(item, shopper):
    placed, _ = stockwire.hold(item.pk, 2, user_id=shopper.pk)

    assert stockwire.release(placed.pk, user_id=shopper.pk) == (10, 0, 3)
    with pytest.raises(stockwire.UnknownHold):
        stockwire.release(placed.pk, user_id=shopper.pk)
    with pytest.raises(stockwire.UnknownHold):
        stockwire.take(item.pk, 2, hold=placed.pk, user_id=shopper.pk)
    assert stock_of(item) == (10, 0, 3)


def test_an_expired_hold_cannot_be_bought_through_and_the_sweep_returns_its_units_once(
    item, shopper, settings
):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_SECONDS": 0}
    placed, _ = stockwire.hold(item.pk, 4, user_id=shopper.pk)

    with pytest.raises(stockwire.HoldExpired):
        stockwire.take(item.pk, 4, hold=placed.pk, user_id=shopper.pk)
    assert holds.expire_due() == 1
    assert holds.expire_due() == 0

    assert stock_of(item) == (10, 0, 3)
    placed.refresh_from_db()
    assert placed.state == Hold.State.EXPIRED


def test_a_user_holds_no_more_than_the_limits_per_item_and_in_all(
    item, other_item, shopper, other_shopper, settings
):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_LIMIT_PER_ITEM": 2, "HOLD_LIMIT_TOTAL": 3}
    stockwire.hold(item.pk, 2, user_id=shopper.pk)

    with pytest.raises(stockwire.HoldLimitReached) as per_item:
        stockwire.hold(item.pk, 1, user_id=shopper.pk)
    assert per_item.value.limit == 2
    stockwire.hold(other_item.pk, 1, user_id=shopper.pk)
    with pytest.raises(stockwire.HoldLimitReached) as in_all:
        stockwire.hold(other_item.pk, 1, user_id=shopper.pk)
    assert in_all.value.limit == 3

    assert stockwire.hold(item.pk, 2, user_id=other_shopper.pk)[1].held == 4


async def test_watchers_see_on_hand_held_and_available_and_an_expiry_within_a_second(
    sockets, item, shopper, settings
):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_SECONDS": 0.5, "HOLD_SWEEP_SECONDS": 0.1}
    socket = await sockets(user=shopper)
    assert (await receive(socket))["type"] == "hello"
    await socket.send_to(text_data=json.dumps({"action": "subscribe", "items": [item.pk]}))
    assert (await receive(socket))["quantity"] == 10

    await sync_to_async(stockwire.hold)(item.pk, 3, user_id=shopper.pk)

    held = {"type": "stock", "item": item.pk, "quantity": 7, "on_hand": 10, "held": 3}
    assert await receive(socket) == {**held, "version": 2}
    expired = {"type": "stock", "item": item.pk, "quantity": 10, "on_hand": 10, "held": 0}
    assert await receive(socket, wait=1.5) == {**expired, "version": 3}


def test_holds_and_purchases_racing_never_sell_a_held_unit_nor_hold_more_than_is_on_hand(
    django_user_model,
):
    """Real threads with connections of their own: on PostgreSQL in the services pass."""
    item = Item.objects.create(sku="RACE-1", name="Race", price="5.00", quantity=10)
    buyers = [django_user_model.objects.create_user(username=f"racer{n}") for n in range(24)]

    def hold_then_buy(user):
        try:
            placed, _ = stockwire.hold(item.pk, 2, user_id=user.pk)
        except stockwire.OutOfStock:
            return "nothing to hold"
        # A buyer whose hold was taken by someone else would raise here, and fail the test.
        stockwire.take(item.pk, 2, hold=placed.pk, user_id=user.pk)
        return "bought through a hold"

    def buy(user):
        try:
            stockwire.take(item.pk, 1)
        except stockwire.OutOfStock:
            return "sold out"
        return "bought"

    outcomes = at_once(
        [partial(hold_then_buy if n % 2 else buy, user) for n, user in enumerate(buyers)]
    )

    units_sold = 2 * outcomes.count("bought through a hold") + outcomes.count("bought")
    item.refresh_from_db()
    assert (item.quantity, item.held) == (10 - units_sold, 0)
    assert item.quantity >= 0
    assert not Hold.objects.filter(state=Hold.State.ACTIVE).exists()
