import random
from functools import partial

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop import services
from shop.models import Item, Order
from tests.conftest import PASSWORD, api_client
from tests.races import at_once

pytestmark = pytest.mark.django_db


def purchase(client, item_id, body, **headers):
    return client.post(f"/api/items/{item_id}/purchase", body, format="json", **headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# Accounts and tokens


def test_register_creates_an_account_that_can_get_tokens():
    response = api_client().post(
        "/api/auth/register", {"username": "carol", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {"id": get_user_model().objects.get().pk, "username": "carol"}

    tokens = api_client().post(
        "/api/auth/token", {"username": "carol", "password": PASSWORD}, format="json"
    )
    assert tokens.status_code == 200
    assert set(tokens.json()) == {"access", "refresh"}

    refreshed = api_client().post(
        "/api/auth/token/refresh", {"refresh": tokens.json()["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200 and "access" in refreshed.json()


def test_register_refuses_a_taken_username(shopper):
    response = api_client().post(
        "/api/auth/register", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert_error(response, 400, "username_taken")


def test_register_refuses_a_weak_password():
    response = api_client().post(
        "/api/auth/register", {"username": "carol", "password": "123"}, format="json"
    )
    body = assert_error(response, 400, "invalid_request")
    assert "password" in body["fields"]


def test_token_with_bad_credentials_is_401(shopper):
    response = api_client().post(
        "/api/auth/token", {"username": "alice", "password": "wrong"}, format="json"
    )
    assert_error(response, 401, "authentication_failed")


# Items


def test_item_list_is_a_page_of_items(item, other_item):
    response = api_client().get("/api/items")
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert body["results"][0] == {
        "id": item.pk,
        "sku": "KB-1",
        "name": "Keyboard",
        "price": "89.00",
        "quantity": 10,
        "on_hand": 10,
        "held": 0,
        "version": 1,
    }


def test_item_detail_and_unknown_item(item):
    assert api_client().get(f"/api/items/{item.pk}").json()["quantity"] == 10
    assert_error(api_client().get("/api/items/999"), 404, "not_found")
    assert_error(api_client().get(f"/api/items/{2**70}"), 404, "not_found")


# Purchases


def test_purchase_returns_the_order_and_the_item_after_it(shopper, item):
    response = purchase(api_client(shopper), item.pk, {"quantity": 2})

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get()
    assert body["order"]["id"] == order.pk
    assert {k: body["order"][k] for k in ("item", "item_name", "quantity", "unit_price")} == {
        "item": item.pk,
        "item_name": "Keyboard",
        "quantity": 2,
        "unit_price": "89.00",
    }
    assert body["item"]["quantity"] == 8 and body["item"]["version"] == 2


def statements_of(client, item_id: int, quantity: int, status: int) -> list[str]:
    """The kinds of statement a purchase sends (savepoints left out: they are there only
    because the test itself runs in a transaction)."""
    with CaptureQueriesContext(connection) as captured:
        assert purchase(client, item_id, {"quantity": quantity}).status_code == status
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    return [kind for kind in statements if kind not in ("SAVEPOINT", "RELEASE", "ROLLBACK")]


def test_a_purchase_reads_and_writes_the_database_a_fixed_number_of_times(shopper, item):
    """The buyer (1), the item (1), then in one transaction the order (1), the sale with its
    new level (1) and its audit row (1): nothing grows with the catalog or with the answer,
    and the item's row is locked (from the UPDATE to the commit) for one statement more."""
    assert statements_of(api_client(shopper), item.pk, 1, 201) == [
        "SELECT",
        "SELECT",
        "INSERT",
        "UPDATE",
        "INSERT",
    ]


def test_a_purchase_of_more_than_is_available_is_refused_from_one_read_of_the_item(shopper, item):
    """The crowd of a sold-out item is answered without writing or waiting for the row lock
    that the buyers of the last units hold."""
    assert statements_of(api_client(shopper), item.pk, 11, 409) == ["SELECT", "SELECT"]


@pytest.mark.django_db(transaction=True)
def test_buyers_answered_at_the_same_moment_each_get_their_own_order(item):
    buyers = [
        get_user_model().objects.create_user(f"buyer{n}", password=PASSWORD) for n in range(1, 9)
    ]
    jobs = [partial(purchase, api_client(buyer), item.pk, {"quantity": 1}) for buyer in buyers]

    answers = [response.json() for response in at_once(jobs)]

    orders = {order.user_id: order for order in Order.objects.select_related("item")}
    assert [answer["order"]["id"] for answer in answers] == [orders[b.pk].pk for b in buyers]
    assert sorted(answer["item"]["version"] for answer in answers) == list(range(2, 10))


def test_purchase_beyond_stock_is_409_with_what_is_available(shopper, item):
    body = assert_error(
        purchase(api_client(shopper), item.pk, {"quantity": 11}), 409, "insufficient_stock"
    )
    assert body["available"] == 10


@pytest.mark.parametrize("quantity", [0, -3, 1.5, "2", None, True, [1], 10**30])
def test_purchase_quantity_must_be_a_positive_integer(shopper, item, quantity):
    assert_error(
        purchase(api_client(shopper), item.pk, {"quantity": quantity}), 400, "invalid_request"
    )
    assert Item.objects.get().quantity == 10


def test_purchase_without_credentials_is_401(item):
    assert_error(purchase(api_client(), item.pk, {"quantity": 1}), 401, "not_authenticated")


def test_purchase_with_a_garbage_token_is_401(item):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(purchase(client, item.pk, {"quantity": 1}), 401, "invalid_token")


def test_purchase_of_unknown_item_is_404(shopper):
    assert_error(purchase(api_client(shopper), 999, {"quantity": 1}), 404, "unknown_item")


def test_purchase_body_that_is_not_json_is_400(shopper, item):
    response = api_client(shopper).post(
        f"/api/items/{item.pk}/purchase", "{quantity: 1", content_type="application/json"
    )
    assert_error(response, 400, "malformed_json")


def test_purchase_with_a_form_body_is_415(shopper, item):
    response = api_client(shopper).post(f"/api/items/{item.pk}/purchase", {"quantity": 1})
    assert_error(response, 415, "unsupported_media_type")


def test_session_purchase_needs_the_csrf_token(shopper, item, client):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(shopper)
    response = browser.post(f"/api/items/{item.pk}/purchase", {"quantity": 1}, format="json")
    assert_error(response, 403, "permission_denied")

    browser.get("/")  # the catalog page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        f"/api/items/{item.pk}/purchase", {"quantity": 1}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201


# Restock


def test_staff_restock_returns_the_item_after_it(staff, item):
    response = api_client(staff).post(
        f"/api/items/{item.pk}/restock", {"quantity": 5}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["quantity"] == 15 and response.json()["version"] == 2


def test_restock_by_a_shopper_is_403(shopper, item):
    response = api_client(shopper).post(
        f"/api/items/{item.pk}/restock", {"quantity": 5}, format="json"
    )
    assert_error(response, 403, "permission_denied")
    assert Item.objects.get().quantity == 10


def test_restock_without_credentials_is_401(item):
    response = api_client().post(f"/api/items/{item.pk}/restock", {"quantity": 5}, format="json")
    assert_error(response, 401, "not_authenticated")


# Orders


def test_orders_lists_only_my_orders_newest_first(shopper, other_shopper, item):
    first = services.purchase(user=shopper, item_id=item.pk, quantity=1)
    services.purchase(user=other_shopper, item_id=item.pk, quantity=1)
    second = services.purchase(user=shopper, item_id=item.pk, quantity=2)

    body = api_client(shopper).get("/api/orders").json()
    assert body["count"] == 2
    assert [order["id"] for order in body["results"]] == [second.pk, first.pk]


def test_orders_without_credentials_is_401():
    assert_error(api_client().get("/api/orders"), 401, "not_authenticated")


# Everything under /api/ is JSON


def test_unknown_api_path_is_a_json_404():
    assert_error(api_client().get("/api/nothing/here"), 404, "not_found")


def test_wrong_method_is_a_json_405(item):
    assert_error(api_client().delete(f"/api/items/{item.pk}"), 405, "method_not_allowed")


# Idempotency


def test_a_retry_with_the_same_idempotency_key_returns_the_first_order_and_sells_nothing_more(
    shopper, item
):
    client = api_client(shopper)
    first = purchase(client, item.pk, {"quantity": 2}, HTTP_IDEMPOTENCY_KEY="order-7f3a")
    services.purchase(user=shopper, item_id=item.pk, quantity=1)  # another sale in between
    retry = purchase(client, item.pk, {"quantity": 2}, HTTP_IDEMPOTENCY_KEY="order-7f3a")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Item.objects.get().quantity == 7
    assert Order.objects.count() == 2


def test_a_retry_of_the_purchase_that_sold_the_last_units_answers_its_order_not_sold_out(
    shopper, item
):
    client = api_client(shopper)
    first = purchase(client, item.pk, {"quantity": 10}, HTTP_IDEMPOTENCY_KEY="last-units")
    retry = purchase(client, item.pk, {"quantity": 10}, HTTP_IDEMPOTENCY_KEY="last-units")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Order.objects.count() == 1


def test_the_same_idempotency_key_for_another_purchase_is_409(shopper, item):
    client = api_client(shopper)
    purchase(client, item.pk, {"quantity": 2}, HTTP_IDEMPOTENCY_KEY="k1")
    body = assert_error(
        purchase(client, item.pk, {"quantity": 3}, HTTP_IDEMPOTENCY_KEY="k1"),
        409,
        "idempotency_key_reused",
    )
    assert "k1" in body["detail"]


def test_idempotency_keys_are_per_user(shopper, other_shopper, item):
    purchase(api_client(shopper), item.pk, {"quantity": 1}, HTTP_IDEMPOTENCY_KEY="same")
    purchase(api_client(other_shopper), item.pk, {"quantity": 1}, HTTP_IDEMPOTENCY_KEY="same")
    assert Order.objects.count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_idempotency_key_is_400(shopper, item, key):
    assert_error(
        purchase(api_client(shopper), item.pk, {"quantity": 1}, HTTP_IDEMPOTENCY_KEY=key),
        400,
        "invalid_request",
    )
    assert not Order.objects.exists()


# Rate limit


def test_a_shopper_over_the_purchase_rate_gets_429_json_and_others_do_not(
    shopper, other_shopper, item, settings
):

    settings.PURCHASE_RATE = "3/min"
    for user in (shopper, other_shopper):
        cache.delete(f"throttle_purchase_{user.pk}")
    client = api_client(shopper)
    for _ in range(3):
        assert purchase(client, item.pk, {"quantity": 1}).status_code == 201

    response = purchase(client, item.pk, {"quantity": 1})
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert Item.objects.get().quantity == 7
    assert purchase(api_client(other_shopper), item.pk, {"quantity": 1}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_shopper_s_simultaneous_purchases_get_no_more_than_the_purchase_rate(
    shopper, item, settings
):
    """Twenty purchases of one shopper at the same moment (a script, or a flash sale's
    impatient buyer): the rate holds for them as for purchases one after another."""
    settings.PURCHASE_RATE = "3/min"
    cache.delete(f"throttle_purchase_{shopper.pk}")
    clients = [api_client(shopper) for _ in range(20)]

    statuses = at_once([partial(purchase, client, item.pk, {"quantity": 1}) for client in clients])

    assert sorted(response.status_code for response in statuses) == [201] * 3 + [429] * 17
    assert Item.objects.get().quantity == 7


@pytest.mark.parametrize("username", ["ALICE", "Alice", "\uff41lice"])  # \uff41: fullwidth a
def test_register_refuses_a_username_taken_in_another_case_or_form(shopper, username):
    response = api_client().post(
        "/api/auth/register", {"username": username, "password": PASSWORD}, format="json"
    )
    assert_error(response, 400, "username_taken")


@pytest.mark.parametrize("username", ["ALICE", "\uff41lice"])
def test_the_register_page_refuses_the_same_usernames_as_the_api(client, shopper, username):
    response = client.post(
        "/register/", {"username": username, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 200 and b"already exists" in response.content
    assert get_user_model().objects.count() == 1


def test_registrations_are_limited_per_address_over_the_api_and_the_page(client, settings):
    settings.REGISTER_RATE = "2/hour"
    # An address of this test's own: the count lives in the cache (Redis in the second pass).
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"

    def register_over_api(name):
        return api_client().post(
            "/api/auth/register",
            {"username": name, "password": PASSWORD},
            format="json",
            REMOTE_ADDR=address,
        )

    assert [register_over_api(name).status_code for name in ("carol", "dave")] == [201, 201]
    assert_error(register_over_api("erin"), 429, "rate_limited")
    page = client.post(
        "/register/",
        {"username": "frank", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR=address,
    )
    assert page.status_code == 429 and b"Too many new accounts" in page.content
    assert not get_user_model().objects.filter(username__in=["erin", "frank"]).exists()
