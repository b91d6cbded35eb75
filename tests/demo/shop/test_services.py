from decimal import Decimal
from functools import partial

import pytest

from shop import services
from shop.errors import InsufficientStock, InvalidQuantity, ItemNotFound, StaffOnly
from shop.models import Item, Order, StockMovement
from tests.races import at_once

pytestmark = pytest.mark.django_db


def test_purchase_takes_stock_bumps_version_and_records_order_and_movement(shopper, item):
    order = services.purchase(user=shopper, item_id=item.pk, quantity=3)

    item.refresh_from_db()
    assert (item.quantity, item.version) == (7, 2)
    assert (order.user, order.item, order.quantity, order.unit_price) == (
        shopper,
        item,
        3,
        Decimal("89.00"),
    )
    movement = StockMovement.objects.get(order=order)
    assert (movement.delta, movement.reason, movement.quantity_after, movement.version) == (
        -3,
        "purchase",
        7,
        2,
    )
    assert movement.actor == shopper


def test_purchase_of_more_than_available_changes_nothing(shopper, item):
    with pytest.raises(InsufficientStock) as raised:
        services.purchase(user=shopper, item_id=item.pk, quantity=11)

    assert raised.value.extra["available"] == 10
    item.refresh_from_db()
    assert (item.quantity, item.version) == (10, 1)
    assert not Order.objects.exists() and not StockMovement.objects.exists()


def test_purchase_of_unknown_item_is_refused(shopper):
    with pytest.raises(ItemNotFound):
        services.purchase(user=shopper, item_id=4242, quantity=1)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True, None, services.MAX_QUANTITY + 1])
def test_purchase_refuses_quantities_that_are_not_positive_whole_numbers(shopper, item, quantity):
    with pytest.raises(InvalidQuantity):
        services.purchase(user=shopper, item_id=item.pk, quantity=quantity)


def test_the_database_refuses_negative_stock_even_without_the_service(item):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(quantity=-1)


def test_restock_adds_units_and_records_who_did_it(staff, item):
    item = services.restock(actor=staff, item_id=item.pk, quantity=5)

    assert (item.quantity, item.version) == (15, 2)
    movement = StockMovement.objects.get()
    assert (movement.delta, movement.reason, movement.actor) == (5, "restock", staff)


def test_only_staff_restock(shopper, item):
    with pytest.raises(StaffOnly):
        services.restock(actor=shopper, item_id=item.pk, quantity=5)
    item.refresh_from_db()
    assert item.quantity == 10


def test_adjust_sets_a_counted_level_and_records_the_difference(staff, item):
    item = services.adjust(actor=staff, item_id=item.pk, quantity=4)

    assert (item.quantity, item.version) == (4, 2)
    assert StockMovement.objects.get().delta == -6


def test_every_version_has_exactly_one_movement(shopper, staff, item):
    services.purchase(user=shopper, item_id=item.pk, quantity=2)
    services.restock(actor=staff, item_id=item.pk, quantity=4)
    services.adjust(actor=staff, item_id=item.pk, quantity=1)

    movements = list(
        StockMovement.objects.order_by("version").values_list("version", "quantity_after")
    )
    assert movements == [(2, 8), (3, 12), (4, 1)]


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_buyers_never_oversell_ten_units(django_user_model):
    """Real threads, each with its own database connection, all buying at the same moment.

    Runs on SQLite in the embedded pass and on PostgreSQL in the services pass.
    """
    item = Item.objects.create(sku="HOT-1", name="Hot item", price=Decimal("5.00"), quantity=10)
    buyers = [django_user_model.objects.create_user(username=f"buyer{n}") for n in range(50)]

    def buy(user):
        try:
            services.purchase(user=user, item_id=item.pk, quantity=1)
        except InsufficientStock:
            return "sold out"
        return "sold"

    # Any other error ("database is locked") fails the test with its traceback.
    outcomes = at_once([partial(buy, user) for user in buyers])

    assert sorted(outcomes) == ["sold"] * 10 + ["sold out"] * 40
    item.refresh_from_db()
    assert (item.quantity, item.version) == (0, 11)
    assert Order.objects.count() == 10
    assert StockMovement.objects.filter(reason="purchase").count() == 10
    assert sorted(StockMovement.objects.values_list("version", flat=True)) == list(range(2, 12))


@pytest.mark.django_db(transaction=True)
def test_racing_retries_with_one_idempotency_key_sell_once(shopper):
    """Ten threads send the same purchase with the same key at the same moment."""
    item = Item.objects.create(sku="IDEM-1", name="Item", price=Decimal("5.00"), quantity=100)
    retry = partial(
        services.purchase, user=shopper, item_id=item.pk, quantity=3, idempotency_key="k-42"
    )

    orders = at_once([retry] * 10)

    assert len({order.pk for order in orders}) == 1
    item.refresh_from_db()
    assert (item.quantity, item.version) == (97, 2)
    assert StockMovement.objects.count() == 1
