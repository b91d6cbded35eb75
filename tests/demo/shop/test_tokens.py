"""Tokens that can be taken back: a refresh token works once, and a password change or a
deactivation ends the user's tokens."""

import pytest

from tests.conftest import PASSWORD, api_client

pytestmark = pytest.mark.django_db


def tokens_of(username: str) -> dict:
    response = api_client().post(
        "/api/auth/token", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def refresh(token: str):
    return api_client().post("/api/auth/token/refresh", {"refresh": token}, format="json")


def orders_with(access: str):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/orders")


def test_a_refresh_answers_a_new_refresh_token_and_the_used_one_is_refused(shopper):
    first = tokens_of("alice")["refresh"]
    response = refresh(first)
    assert response.status_code == 200
    assert response.json()["refresh"] != first

    again = refresh(first)
    assert again.status_code == 401
    assert refresh(response.json()["refresh"]).status_code == 200


def test_a_password_change_ends_the_users_access_and_refresh_tokens(shopper):
    tokens = tokens_of("alice")
    shopper.set_password("a-new-" + PASSWORD)
    shopper.save()

    assert orders_with(tokens["access"]).status_code == 401
    assert refresh(tokens["refresh"]).status_code == 401


def test_a_deactivated_user_can_neither_use_nor_refresh_tokens(shopper):
    tokens = tokens_of("alice")
    shopper.is_active = False
    shopper.save()

    assert orders_with(tokens["access"]).status_code == 401
    assert refresh(tokens["refresh"]).status_code == 401


def test_another_users_tokens_are_untouched_by_a_password_change(shopper, other_shopper):
    bobs = tokens_of("bob")
    shopper.set_password("a-new-" + PASSWORD)
    shopper.save()
    assert orders_with(bobs["access"]).status_code == 200
    assert refresh(bobs["refresh"]).status_code == 200
