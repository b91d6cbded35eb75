"""The back-in-stock API and pages: a shopper waits for a sold-out item, lists and cancels
what they wait for; every refusal a client can cause has its code."""

import pytest

from shop import services
from stockwire.models import Alert
from tests.conftest import api_client
from tests.demo.shop.test_api import assert_error, purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_out(item, other_shopper):
    assert purchase(api_client(other_shopper), item.pk, {"quantity": 10}).status_code == 201
    return item


def wait_for(client, item_id):
    return client.post(f"/api/items/{item_id}/alerts")


def test_an_alert_of_a_sold_out_item_answers_201_and_is_listed_as_mine_only(
    shopper, other_shopper, sold_out
):
    response = wait_for(api_client(shopper), sold_out.pk)

    assert response.status_code == 201
    mine = response.json()
    assert set(mine) == {"id", "item", "created_at"} and mine["item"] == sold_out.pk
    assert wait_for(api_client(shopper), sold_out.pk).json() == mine
    wait_for(api_client(other_shopper), sold_out.pk)
    assert api_client(shopper).get("/api/alerts").json()["results"] == [mine]


def test_an_alert_of_an_item_in_stock_is_409_in_stock_naming_what_is_available(shopper, item):
    body = assert_error(wait_for(api_client(shopper), item.pk), 409, "in_stock")
    assert (body["item"], body["available"]) == (item.pk, 10)


def test_an_alert_of_an_unknown_item_is_404_unknown_item(shopper):
    assert_error(wait_for(api_client(shopper), 999_999), 404, "unknown_item")


def test_cancelling_is_204_once_and_404_unknown_alert_after_or_for_someone_else(
    shopper, other_shopper, sold_out
):
    alert = wait_for(api_client(shopper), sold_out.pk).json()
    path = f"/api/alerts/{alert['id']}"

    assert_error(api_client(other_shopper).delete(path), 404, "unknown_alert")
    assert api_client(shopper).delete(path).status_code == 204
    assert_error(api_client(shopper).delete(path), 404, "unknown_alert")
    assert api_client(shopper).get("/api/alerts").json()["results"] == []


def test_a_restock_through_the_api_fires_the_alert_and_it_is_no_longer_listed(
    shopper, staff, sold_out
):
    alert = wait_for(api_client(shopper), sold_out.pk).json()

    response = api_client(staff).post(
        f"/api/items/{sold_out.pk}/restock", {"quantity": 2}, format="json"
    )

    assert response.status_code == 200
    fired = Alert.objects.get(pk=alert["id"])
    assert (fired.state, fired.available, fired.waiting) == ("due", 2, 1)
    assert api_client(shopper).get("/api/alerts").json()["results"] == []
    assert_error(api_client(shopper).delete(f"/api/alerts/{alert['id']}"), 404, "unknown_alert")


def test_a_stocktake_that_finds_units_fires_the_alert(shopper, staff, sold_out):
    alert = services.notify_when_back(user=shopper, item_id=sold_out.pk)

    services.adjust(actor=staff, item_id=sold_out.pk, quantity=1)

    assert Alert.objects.get(pk=alert.pk).state == "due"


def test_alerts_need_a_login(sold_out):
    assert_error(wait_for(api_client(), sold_out.pk), 401, "not_authenticated")
    assert_error(api_client().get("/api/alerts"), 401, "not_authenticated")
    assert_error(api_client().delete("/api/alerts/1"), 401, "not_authenticated")


def test_sold_out_items_offer_notify_me_and_a_set_alert_offers_to_cancel(
    client, shopper, sold_out, other_item
):
    client.force_login(shopper)
    catalog = client.get("/").content.decode()
    assert f'<div class="notify" data-notify data-item="{sold_out.pk}">' in catalog
    assert f'<div class="notify" data-notify data-item="{other_item.pk}" hidden>' in catalog

    alert = services.notify_when_back(user=shopper, item_id=sold_out.pk)
    page = client.get(f"/items/{sold_out.pk}/").content.decode()

    assert f'data-item="{sold_out.pk}" data-alert="{alert.pk}">' in page
    assert "data-notify-me hidden>Notify me</button>" in page
    assert '<p class="notify-set" data-notify-set>' in page
