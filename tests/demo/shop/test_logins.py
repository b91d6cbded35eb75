"""Failed logins are limited per account and per client address, on the API, the login page
and the admin alike, in counts every process shares (the cache: Redis in the second pass)."""

import uuid

import pytest
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "not-" + PASSWORD


@pytest.fixture(autouse=True)
def counts_of_its_own(settings):
    """Each test counts failures under cache keys of its own (the cache outlives a test), and
    at limits small enough to reach."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "KEY_PREFIX": f"test-logins-{uuid.uuid4().hex[:8]}",
        }
    }
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 6


def api_login(username: str, password: str, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/api/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
    )


def page_login(path: str, username: str, password: str, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def test_past_the_account_limit_even_the_right_password_gets_429_with_retry_after(shopper):
    for _ in range(3):
        assert api_login("alice", WRONG).status_code == 401

    response = api_login("alice", PASSWORD)

    assert response.status_code == 429
    assert response.json()["error"] == "too_many_failed_logins"
    assert "failed logins" in response.json()["detail"]
    # The window opened with the first failure, moments ago: not at the clock's quarter hour.
    assert 15 * 60 - 60 <= int(response["Retry-After"]) <= 15 * 60


def test_an_account_is_one_however_its_name_is_typed(shopper):
    fullwidth = "\uff41\uff4c\uff49\uff43\uff45"  # "alice" in fullwidth letters
    for username in ("alice", "ALICE", fullwidth):
        assert api_login(username, WRONG).status_code == 401

    assert api_login("alice", PASSWORD).status_code == 429


def test_a_locked_account_leaves_other_accounts_free_to_log_in(shopper, other_shopper):
    for _ in range(3):
        api_login("alice", WRONG)

    assert api_login("alice", PASSWORD).status_code == 429
    assert api_login("bob", PASSWORD).status_code == 200


def test_an_address_past_its_limit_is_refused_for_every_account_and_others_are_not(
    shopper, other_shopper
):
    for n in range(6):
        assert api_login(f"guess{n}", WRONG, address="203.0.113.7").status_code == 401

    assert api_login("bob", PASSWORD, address="203.0.113.7").status_code == 429
    assert api_login("bob", PASSWORD, address="198.51.100.2").status_code == 200


def test_a_right_password_under_the_limit_logs_in_and_is_not_counted(shopper):
    for _ in range(2):
        api_login("alice", WRONG)
    for _ in range(5):
        assert api_login("alice", PASSWORD).status_code == 200


def test_the_login_page_answers_429_with_the_reason_in_the_form(shopper):
    for _ in range(3):
        assert page_login("/login/", "alice", WRONG).status_code == 200

    response = page_login("/login/", "alice", PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in response.client.session


def test_failures_on_one_login_path_hold_back_the_others(staff):
    api_login("stella", WRONG)
    page_login("/login/", "stella", WRONG)
    page_login("/admin/login/", "stella", WRONG)

    admin = page_login("/admin/login/", "stella", PASSWORD)
    assert "Too many failed logins" in admin.content.decode()
    assert "_auth_user_id" not in admin.client.session
    assert api_login("stella", PASSWORD).status_code == 429
    assert page_login("/login/", "stella", PASSWORD).status_code == 429


def test_logins_go_on_when_the_cache_is_unreachable(shopper, settings, caplog):
    closed_port = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    redis = "django.core.cache.backends.redis.RedisCache"
    settings.CACHES = {"default": {"BACKEND": redis, "LOCATION": closed_port}}

    assert api_login("alice", WRONG).status_code == 401
    assert api_login("alice", PASSWORD).status_code == 200
    assert "login limit unavailable" in caplog.text
