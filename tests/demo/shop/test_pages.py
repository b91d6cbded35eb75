import pytest
from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_catalog_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_login_page_logs_in_with_username_and_password(client, shopper):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_catalog_shows_each_quantity_where_the_client_updates_it(
    client, shopper, item, other_item
):
    client.force_login(shopper)
    page = client.get("/").content.decode()

    assert f'data-stock-item="{item.pk}" data-version="1">10</span>' in page
    assert f'data-stock-item="{other_item.pk}" data-version="1">3</span>' in page
    assert f'data-buy-item="{item.pk}"' in page
    assert 'data-live="false"' in page
    assert "stockwire/stockwire.js" in page


def test_a_sold_out_item_has_its_buy_button_disabled(client, shopper, item):
    item.quantity = 0
    item.save()
    client.force_login(shopper)
    page = client.get("/").content.decode()
    assert f'data-buy-item="{item.pk}" disabled' in page


def test_register_page_creates_a_shopper_and_logs_them_in(client):
    response = client.post(
        "/register/", {"username": "carol", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert get_user_model().objects.filter(username="carol").exists()
    assert client.get("/").status_code == 200


def test_register_page_shows_why_a_password_is_refused(client):
    response = client.post(
        "/register/", {"username": "carol", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not get_user_model().objects.exists()


def test_orders_page_lists_my_orders(client, shopper, item):
    from shop import services

    services.purchase(user=shopper, item_id=item.pk, quantity=2)
    client.force_login(shopper)
    page = client.get("/orders/").content.decode()
    assert "Keyboard" in page


def test_the_item_page_shows_the_live_quantity_presence_and_buy_form(client, shopper, item):
    client.force_login(shopper)
    page = client.get(f"/items/{item.pk}/").content.decode()
    assert f'data-stock-item="{item.pk}" data-version="1">10</span>' in page
    assert f'data-view-item="{item.pk}"' in page
    assert f'data-presence-item="{item.pk}"' in page
    assert f'data-buy-item="{item.pk}"' in page
    assert "Confirm purchase" in page


def test_an_unknown_item_page_is_a_404_page(client, shopper):
    client.force_login(shopper)
    response = client.get("/items/999999/")
    assert response.status_code == 404
    assert "There is nothing at this address" in response.content.decode()


def test_the_stock_room_is_for_staff_only(client, shopper, staff, item):
    client.force_login(shopper)
    refused = client.get("/staff/stock/")
    assert refused.status_code == 403 and "This page is for staff" in refused.content.decode()

    client.force_login(staff)
    page = client.get("/staff/stock/").content.decode()
    assert f'data-restock-item="{item.pk}"' in page
    assert f'data-stock-item="{item.pk}"' in page


def test_the_new_pages_ask_anonymous_visitors_to_log_in(client, item):
    for path in (f"/items/{item.pk}/", "/staff/stock/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_item_page_has_the_hold_step_ready_and_hidden(client, shopper, item):
    client.force_login(shopper)
    page = client.get(f"/items/{item.pk}/").content.decode()
    assert (
        f'<div class="buy-confirm" data-buy-confirm role="group" '
        f'aria-labelledby="confirm-text-{item.pk}" aria-describedby="hold-timer-{item.pk}" hidden>'
    ) in page
    assert (
        f'<p class="buy-held" id="hold-timer-{item.pk}" role="timer" data-hold-timer>'
        "Held for you: <span data-hold-left></span></p>"
    ) in page
    assert (
        '<button class="button button-quiet" type="button" data-confirm-no>Cancel</button>' in page
    )
    assert '<div class="buy-expired" data-buy-expired hidden>' in page
    assert "data-buy-again>Try again</button>" in page


@pytest.mark.parametrize("path", ["/", "/items/{item}/"])
def test_an_item_whose_available_units_are_at_the_threshold_says_only_n_left(
    client, shopper, item, path, settings
):
    settings.LOW_STOCK_AT = 4
    item.quantity, item.held = 6, 2
    item.save()
    client.force_login(shopper)
    page = client.get(path.format(item=item.pk)).content.decode()
    assert (
        f'<span class="badge-low-stock" data-low-stock="{item.pk}" data-low-stock-at="4">'
        "Only 4 left</span>"
    ) in page


@pytest.mark.parametrize("quantity", [5, 0])
def test_an_item_above_the_threshold_or_sold_out_hides_only_n_left(
    client, shopper, item, quantity, settings
):
    settings.LOW_STOCK_AT = 4
    item.quantity = quantity
    item.save()
    client.force_login(shopper)
    page = client.get(f"/items/{item.pk}/").content.decode()
    assert (
        f'<span class="badge-low-stock" data-low-stock="{item.pk}" data-low-stock-at="4" hidden>'
        f"Only {quantity} left</span>"
    ) in page
