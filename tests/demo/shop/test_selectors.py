"""The shop's reads by id: what a purchase reads of its buyer and its item is what the ORM
would read, on SQLite (the first pass) and PostgreSQL (the second)."""

from decimal import Decimal

from django.contrib.auth import get_user_model

from shop import selectors
from shop.models import Item


def fields_of(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


def test_an_item_read_by_id_is_the_item_the_orm_reads(item):
    read = selectors.item(item.pk)
    assert type(read) is Item and not read._state.adding
    assert fields_of(read) == fields_of(Item.objects.get(pk=item.pk))
    assert read.price == Decimal("89.00") and isinstance(read.price, Decimal)


def test_a_user_read_by_id_has_the_orm_s_dates_flags_and_password_hash(shopper):
    read = selectors.user(shopper.pk)
    assert fields_of(read) == fields_of(get_user_model().objects.get(pk=shopper.pk))
    assert read.is_active is True and read.date_joined.tzinfo is not None


def test_an_id_nothing_has_reads_as_none(db):
    assert selectors.item(987654) is None
    assert selectors.user(987654) is None
