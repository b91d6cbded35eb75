import pytest

import stockwire
from shop.models import Item, StockMovement

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser(
            username="root", password="x", email="r@example.com"
        )
    )
    return client


def test_admin_lists_items_orders_and_movements(admin_client, item):
    for url in ["/admin/shop/item/", "/admin/shop/order/", "/admin/shop/stockmovement/"]:
        assert admin_client.get(url).status_code == 200


def test_adding_an_item_in_the_admin_records_its_opening_stock(admin_client):
    response = admin_client.post(
        "/admin/shop/item/add/",
        {"sku": "NEW-1", "name": "New", "price": "5.00", "set_quantity_to": "7"},
    )
    assert response.status_code == 302, response.content
    item = Item.objects.get(sku="NEW-1")
    assert item.quantity == 7
    assert StockMovement.objects.get(item=item).reason == "adjust"


def test_restocking_in_the_admin_goes_through_the_service(admin_client, item):
    response = admin_client.post(
        f"/admin/shop/item/{item.pk}/change/",
        {"sku": item.sku, "name": item.name, "price": "89.00", "restock_by": "5"},
    )
    assert response.status_code == 302, response.content
    item.refresh_from_db()
    assert (item.quantity, item.version) == (15, 2)
    movement = StockMovement.objects.get(item=item)
    assert (movement.reason, movement.delta, movement.actor.username) == ("restock", 5, "root")


def test_the_admin_cannot_type_a_quantity_directly(admin_client, item):
    admin_client.post(
        f"/admin/shop/item/{item.pk}/change/",
        {"sku": item.sku, "name": item.name, "price": "89.00", "quantity": "999"},
    )
    item.refresh_from_db()
    assert item.quantity == 10 and not StockMovement.objects.exists()


def test_staff_see_holds_in_the_admin_and_release_one_for_sale_again(admin_client, item, shopper):
    placed, _ = stockwire.hold(item.pk, 3, user_id=shopper.pk)
    assert admin_client.get("/admin/stockwire/hold/").status_code == 200

    response = admin_client.post(
        "/admin/stockwire/hold/",
        {"action": "release_holds", "_selected_action": [placed.pk]},
    )

    assert response.status_code == 302, response.content
    item.refresh_from_db()
    assert (item.quantity, item.held) == (10, 0)
    placed.refresh_from_db()
    assert placed.state == "released"


def test_staff_see_who_waits_for_an_item_and_cancel_an_alert_so_nobody_is_told(
    admin_client, shopper, other_shopper
):
    sold_out = Item.objects.create(sku="GONE-1", name="Gone", price="5.00", quantity=0)
    cancelled = stockwire.alert(sold_out.pk, user_id=shopper.pk)
    kept = stockwire.alert(sold_out.pk, user_id=other_shopper.pk)
    listing = admin_client.get("/admin/stockwire/alert/")
    assert listing.status_code == 200 and b"alice" in listing.content

    response = admin_client.post(
        "/admin/stockwire/alert/",
        {"action": "cancel_alerts", "_selected_action": [cancelled.pk]},
    )

    assert response.status_code == 302, response.content
    stockwire.give(sold_out.pk, 1)
    cancelled.refresh_from_db()
    kept.refresh_from_db()
    assert (cancelled.state, kept.state) == ("cancelled", "due")
    assert admin_client.get(f"/admin/stockwire/alert/{kept.pk}/change/").status_code == 200
