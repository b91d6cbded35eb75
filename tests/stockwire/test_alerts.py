"""Back-in-stock alerts through Stockwire's public API: placed only while an item is sold out,
fired once when its available goes from 0 to more (whatever brought it back), told on every
socket of the user and emailed once by the sweep; never fired by a sale."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext

import stockwire
from shop.models import Item
from stockwire import alerts, holds
from stockwire.models import Alert
from tests.races import at_once

pytestmark = pytest.mark.django_db(transaction=True)


async def receive(socket, wait=2):
    return json.loads(await socket.receive_from(wait))


@pytest.fixture
def sold_out(item):
    stockwire.take(item.pk, 10)
    return item


def states(*placed) -> list[str]:
    return [Alert.objects.get(pk=each.pk).state for each in placed]


def test_an_alert_waits_while_sold_out_and_a_restock_fires_it_once(sold_out, shopper):
    placed = stockwire.alert(sold_out.pk, user_id=shopper.pk)
    assert states(placed) == ["waiting"]

    stockwire.give(sold_out.pk, 3)
    stockwire.give(sold_out.pk, 2)

    fired = Alert.objects.get(pk=placed.pk)
    assert (fired.state, fired.available, fired.waiting) == ("due", 3, 1)
    assert fired.fired_at is not None


def test_alerting_twice_answers_the_same_waiting_alert(sold_out, shopper):
    first = stockwire.alert(sold_out.pk, user_id=shopper.pk)
    assert stockwire.alert(sold_out.pk, user_id=shopper.pk).pk == first.pk
    assert Alert.objects.count() == 1


def test_an_alert_of_an_item_in_stock_is_refused_naming_what_is_available(item, shopper):
    stockwire.hold(item.pk, 4, user_id=shopper.pk)

    with pytest.raises(stockwire.InStock) as refused:
        stockwire.alert(item.pk, user_id=shopper.pk)

    assert (refused.value.code, refused.value.available) == ("in_stock", 6)
    with pytest.raises(stockwire.UnknownItem):
        stockwire.alert(999_999, user_id=shopper.pk)
    assert not Alert.objects.exists()


def test_held_units_released_or_expired_bring_an_item_back_and_fire_its_alerts(
    item, shopper, other_shopper, settings
):
    released, _ = stockwire.hold(item.pk, 5, user_id=other_shopper.pk)
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_SECONDS": 0}
    stockwire.hold(item.pk, 5, user_id=shopper.pk)
    first = stockwire.alert(item.pk, user_id=shopper.pk)

    stockwire.release(released.pk, user_id=other_shopper.pk)
    assert states(first) == ["due"]
    stockwire.take(item.pk, 5)  # sold out again, 5 still held by an expired hold
    second = stockwire.alert(item.pk, user_id=shopper.pk)
    assert holds.expire_due() == 1

    fired = Alert.objects.get(pk=second.pk)
    assert (fired.state, fired.available, fired.waiting) == ("due", 5, 1)


def test_a_purchase_fires_nothing_and_asks_the_database_nothing_about_alerts(
    item, shopper, other_shopper
):
    stockwire.take(item.pk, 9)
    placed, _ = stockwire.hold(item.pk, 1, user_id=other_shopper.pk)
    waiting = stockwire.alert(item.pk, user_id=shopper.pk)

    with CaptureQueriesContext(connection) as captured:
        stockwire.take(item.pk, 1, hold=placed.pk, user_id=other_shopper.pk)

    assert not [q for q in captured.captured_queries if "stockwire_alert" in q["sql"]]
    assert states(waiting) == ["waiting"]


def test_waiting_counts_every_alert_fired_at_once_even_beyond_the_units_that_came_back(
    sold_out, shopper, other_shopper, staff
):
    placed = [stockwire.alert(sold_out.pk, user_id=u.pk) for u in (shopper, other_shopper, staff)]

    stockwire.give(sold_out.pk, 2)

    fired = Alert.objects.filter(pk__in=[p.pk for p in placed])
    assert {(a.state, a.available, a.waiting) for a in fired} == {("due", 2, 3)}


def test_a_cancelled_alert_never_fires_and_only_its_user_can_cancel_it_once(
    sold_out, shopper, other_shopper
):
    placed = stockwire.alert(sold_out.pk, user_id=shopper.pk)

    with pytest.raises(stockwire.UnknownAlert) as refused:
        stockwire.cancel_alert(placed.pk, user_id=other_shopper.pk)
    assert refused.value.code == "unknown_alert"
    stockwire.cancel_alert(placed.pk, user_id=shopper.pk)
    with pytest.raises(stockwire.UnknownAlert):
        stockwire.cancel_alert(placed.pk, user_id=shopper.pk)
    stockwire.give(sold_out.pk, 1)

    assert states(placed) == ["cancelled"]
    # Cancelled, the user may wait again the next time it sells out.
    stockwire.take(sold_out.pk, 1)
    assert stockwire.alert(sold_out.pk, user_id=shopper.pk).pk != placed.pk


def test_a_fired_alert_is_emailed_once_and_a_user_without_an_address_gets_no_email(
    sold_out, shopper, other_shopper
):
    shopper.email = "alice@example.com"
    shopper.save()
    placed = [stockwire.alert(sold_out.pk, user_id=u.pk) for u in (shopper, other_shopper)]
    stockwire.give(sold_out.pk, 1)

    assert alerts.send_due() == 2
    assert alerts.send_due() == 0

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["alice@example.com"]
    assert sent.subject == "Keyboard (KB-1) is back in stock"
    assert "1 available now" in sent.body
    assert "2 people were waiting" in sent.body
    assert states(*placed) == ["sent", "sent"]


def test_an_email_the_mail_server_refuses_stays_due_for_the_next_sweep(sold_out, shopper, settings):
    shopper.email = "alice@example.com"
    shopper.save()
    placed = stockwire.alert(sold_out.pk, user_id=shopper.pk)
    stockwire.give(sold_out.pk, 1)
    settings.EMAIL_BACKEND = "tests.stockwire.test_alerts.RefusingBackend"

    with pytest.raises(ConnectionRefusedError):  # the sweep backs off (test_sweep.py)
        alerts.send_due()
    assert states(placed) == ["due"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert alerts.send_due() == 1
    assert len(mail.outbox) == 1


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


async def test_every_socket_of_a_waiting_user_hears_back_in_stock_and_nobody_else(
    sockets, sold_out, shopper, other_shopper
):
    tabs = [await sockets(user=shopper), await sockets(user=shopper)]
    bystander = await sockets(user=other_shopper)
    for socket in [*tabs, bystander]:
        assert (await receive(socket))["type"] == "hello"
    await sync_to_async(stockwire.alert)(sold_out.pk, user_id=shopper.pk)

    await sync_to_async(stockwire.give)(sold_out.pk, 4)

    expected = {"type": "back_in_stock", "item": sold_out.pk, "available": 4, "waiting": 1}
    for socket in tabs:
        assert await receive(socket) == expected
    assert await bystander.receive_nothing(0.3)


def test_a_shops_own_user_message_may_not_pass_for_back_in_stock(shopper):
    with pytest.raises(ValueError, match="back_in_stock"):
        stockwire.notify_user(shopper.pk, {"type": "back_in_stock", "item": 1})


def test_racing_restocks_releases_and_new_alerts_fire_each_alert_exactly_once(
    django_user_model,
):
    """Real threads with connections of their own: on PostgreSQL in the services pass."""
    item = Item.objects.create(sku="RACE-A", name="Race", price="5.00", quantity=4)
    users = [django_user_model.objects.create_user(username=f"waiter{n}") for n in range(16)]
    kept = [stockwire.hold(item.pk, 2, user_id=user.pk)[0] for user in users[:2]]
    for user in users[2:8]:
        stockwire.alert(item.pk, user_id=user.pk)
    placed, refused = [], []

    def restock():
        stockwire.give(item.pk, 1)

    def release(hold):
        return lambda: stockwire.release(hold.pk, user_id=hold.user_id)

    def wait_for_it(user):
        def place():
            try:
                placed.append(stockwire.alert(item.pk, user_id=user.pk).pk)
            except stockwire.InStock:
                refused.append(user.pk)

        return place

    at_once([restock, restock, *map(release, kept), *map(wait_for_it, users[8:])])

    assert len(placed) + len(refused) == 8
    # Nothing waits for an item in stock: an alert placed before the first change fired with
    # it, one placed after was refused.
    assert not Alert.objects.filter(state="waiting").exists()
    fired = Alert.objects.filter(state="due")
    assert fired.count() == 6 + len(placed)
    assert {a.waiting for a in fired} == {6 + len(placed)}


def test_two_sweeps_at_once_email_each_due_alert_once(django_user_model):
    item = Item.objects.create(sku="RACE-B", name="Race", price="5.00", quantity=0)
    for n in range(30):
        user = django_user_model.objects.create_user(username=f"m{n}", email=f"m{n}@example.com")
        stockwire.alert(item.pk, user_id=user.pk)
    stockwire.give(item.pk, 1)

    at_once([alerts.send_due, alerts.send_due, alerts.send_due])

    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"m{n}@example.com" for n in range(30))
    assert not Alert.objects.exclude(state="sent").exists()
