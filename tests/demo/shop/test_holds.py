"""The holds API: a buyer keeps units while deciding, buys through the hold, or lets it go;
every refusal a client can cause has its code."""

import pytest

from shop import services
from shop.errors import InvalidQuantity
from shop.models import StockMovement
from tests.conftest import api_client
from tests.demo.shop.test_api import assert_error, purchase

pytestmark = pytest.mark.django_db


def place(client, item_id, quantity):
    return client.post(f"/api/items/{item_id}/holds", {"quantity": quantity}, format="json")


def test_a_hold_answers_the_hold_and_the_item_with_on_hand_held_and_available(shopper, item):
    response = place(api_client(shopper), item.pk, 3)

    assert response.status_code == 201
    body = response.json()
    assert set(body["hold"]) == {"id", "item", "quantity", "expires_at"}
    assert (body["hold"]["item"], body["hold"]["quantity"]) == (item.pk, 3)
    assert {k: body["item"][k] for k in ("quantity", "on_hand", "held", "version")} == {
        "quantity": 7,
        "on_hand": 10,
        "held": 3,
        "version": 2,
    }
    assert api_client().get(f"/api/items/{item.pk}").json()["quantity"] == 7


def test_a_hold_beyond_what_is_available_is_409_naming_what_is(shopper, other_shopper, item):
    place(api_client(other_shopper), item.pk, 5)
    assert purchase(api_client(other_shopper), item.pk, {"quantity": 3}).status_code == 201
    body = assert_error(place(api_client(shopper), item.pk, 3), 409, "insufficient_stock")
    assert body["available"] == 2


def test_my_holds_lists_mine_only(shopper, other_shopper, item, other_item):
    mine = place(api_client(shopper), item.pk, 1).json()["hold"]
    place(api_client(other_shopper), other_item.pk, 1)

    listed = api_client(shopper).get("/api/holds").json()

    assert listed["results"] == [mine]


def test_buying_through_my_hold_sells_its_units_whatever_others_do(shopper, other_shopper, item):
    hold = place(api_client(shopper), item.pk, 4).json()["hold"]
    assert purchase(api_client(other_shopper), item.pk, {"quantity": 6}).status_code == 201
    assert_error(
        purchase(api_client(other_shopper), item.pk, {"quantity": 1}), 409, "insufficient_stock"
    )

    response = purchase(api_client(shopper), item.pk, {"quantity": 4, "hold": hold["id"]})

    assert response.status_code == 201
    assert {k: response.json()["item"][k] for k in ("quantity", "on_hand", "held")} == {
        "quantity": 0,
        "on_hand": 0,
        "held": 0,
    }
    assert api_client(shopper).get("/api/holds").json()["results"] == []


def test_a_replayed_purchase_through_a_hold_answers_as_the_first(shopper, item):
    client = api_client(shopper)
    hold = place(client, item.pk, 2).json()["hold"]
    body = {"quantity": 2, "hold": hold["id"]}

    first = purchase(client, item.pk, body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = purchase(client, item.pk, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    movement = StockMovement.objects.get(reason="purchase")
    assert (movement.quantity_after, movement.held_after) == (8, 0)


def test_someone_elses_or_an_ended_hold_is_404_unknown_hold(shopper, other_shopper, item):
    hold = place(api_client(shopper), item.pk, 2).json()["hold"]

    body = {"quantity": 1, "hold": hold["id"]}
    assert_error(purchase(api_client(other_shopper), item.pk, body), 404, "unknown_hold")
    assert_error(api_client(other_shopper).delete(f"/api/holds/{hold['id']}"), 404, "unknown_hold")
    assert api_client(shopper).delete(f"/api/holds/{hold['id']}").status_code == 204
    assert_error(api_client(shopper).delete(f"/api/holds/{hold['id']}"), 404, "unknown_hold")
    assert_error(purchase(api_client(shopper), item.pk, body), 404, "unknown_hold")
    assert api_client().get(f"/api/items/{item.pk}").json()["quantity"] == 10


def test_a_purchase_through_a_hold_of_another_item_or_for_more_is_400(shopper, item, other_item):
    hold = place(api_client(shopper), item.pk, 2).json()["hold"]
    client = api_client(shopper)

    assert_error(
        purchase(client, other_item.pk, {"quantity": 1, "hold": hold["id"]}), 400, "hold_mismatch"
    )
    assert_error(
        purchase(client, item.pk, {"quantity": 3, "hold": hold["id"]}), 400, "hold_mismatch"
    )


def test_an_expired_hold_is_409_hold_expired(shopper, item, settings):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_SECONDS": 0}
    hold = place(api_client(shopper), item.pk, 2).json()["hold"]

    response = purchase(api_client(shopper), item.pk, {"quantity": 2, "hold": hold["id"]})

    assert_error(response, 409, "hold_expired")
    assert api_client(shopper).get("/api/holds").json()["results"] == []


def test_holds_past_my_limit_are_409_hold_limit_reached(shopper, item, settings):
    settings.STOCKWIRE = {**settings.STOCKWIRE, "HOLD_LIMIT_PER_ITEM": 2}
    place(api_client(shopper), item.pk, 2)

    body = assert_error(place(api_client(shopper), item.pk, 1), 409, "hold_limit_reached")
    assert body["limit"] == 2


@pytest.mark.parametrize("hold_id", [0, -1, "1", 1.5, None])
def test_a_hold_id_must_be_a_positive_integer(shopper, item, hold_id):
    response = purchase(api_client(shopper), item.pk, {"quantity": 1, "hold": hold_id})
    assert_error(response, 400, "invalid_request")


def test_holds_need_a_login(item):
    assert_error(place(api_client(), item.pk, 1), 401, "not_authenticated")
    assert_error(api_client().get("/api/holds"), 401, "not_authenticated")


def test_a_stocktake_below_the_held_units_is_refused(staff, shopper, item):
    place(api_client(shopper), item.pk, 4)

    with pytest.raises(InvalidQuantity, match=r"4 units of item \d+ are held"):
        services.adjust(actor=staff, item_id=item.pk, quantity=3)
    assert services.adjust(actor=staff, item_id=item.pk, quantity=4).available == 0
