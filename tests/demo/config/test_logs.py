"""What an operator finds in the log: 500 tracebacks with DEBUG off, one line per 503 of a
database outage, and failed logins without their password."""

import logging

import pytest
from django.db import OperationalError
from django.test import Client

from config.logs import SkipDatabaseUnavailable
from shop import selectors
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def django_request_records():
    """The records django.request emits, and the demo's own handler of them."""
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("django.request")
    catcher = logging.Handler()
    catcher.emit = records.append
    logger.addHandler(catcher)
    errors = next(
        handler
        for handler in logger.handlers
        if any(isinstance(f, SkipDatabaseUnavailable) for f in handler.filters)
    )
    yield records, errors
    logger.removeHandler(catcher)


def test_a_500_with_debug_off_reaches_the_log_with_its_traceback(
    monkeypatch, settings, django_request_records
):
    settings.DEBUG = False
    records, errors = django_request_records

    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "catalog", broken)
    response = Client(raise_request_exception=False).get("/api/items")

    assert response.status_code == 500
    (record,) = records
    assert record.exc_info[0] is RuntimeError and errors.filter(record)


def test_a_503_of_a_database_outage_leaves_out_djangos_traceback(
    monkeypatch, django_request_records
):
    records, errors = django_request_records

    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "catalog", unreachable)
    response = Client(raise_request_exception=False).get("/api/items")

    assert response.status_code == 503
    assert not [record for record in records if errors.filter(record)]


def test_a_failed_login_is_logged_with_username_and_address_never_the_password(
    client, shopper, caplog
):
    with caplog.at_level(logging.WARNING, logger="stockwire.shop.logins"):
        response = client.post(
            "/api/auth/token",
            {"username": "alice", "password": "not-" + PASSWORD},
            content_type="application/json",
        )
    assert response.status_code == 401
    assert "login failed: username='alice' client=127.0.0.1 path=/api/auth/token" in caplog.text
    assert PASSWORD not in caplog.text
