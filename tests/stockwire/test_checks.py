"""`manage.py check` names what is wrong with STOCKWIRE before the first sale does."""

import pytest

from stockwire.checks import check_settings


def errors(settings, **stockwire) -> list[tuple[str, str]]:
    settings.STOCKWIRE = stockwire
    return [(found.id, found.msg) for found in check_settings()]


def ids(settings, **stockwire) -> list[str]:
    return [found_id for found_id, _ in errors(settings, **stockwire)]


def test_the_demo_shops_settings_pass():
    assert check_settings() == []


def test_without_a_model_or_a_source_stockwire_says_it_does_not_know_where_stock_lives(settings):
    assert ids(settings) == ["stockwire.E002"]


@pytest.mark.parametrize("label", ["shop.Nothing", "nowhere.Item", "Item"])
def test_a_model_that_is_not_installed_is_named(settings, label):
    [(found_id, message)] = errors(settings, MODEL=label)
    assert found_id == "stockwire.E003" and repr(label) in message


def test_a_missing_quantity_or_version_field_is_named_with_its_model(settings):
    found = errors(settings, MODEL="shop.Item", QUANTITY_FIELD="stock", VERSION_FIELD="revision")
    assert [found_id for found_id, _ in found] == ["stockwire.E004", "stockwire.E004"]
    assert "shop.Item has no field 'stock'" in found[0][1]
    assert "shop.Item has no field 'revision'" in found[1][1]


def test_a_field_that_does_not_hold_whole_numbers_is_refused(settings):
    [(found_id, message)] = errors(settings, MODEL="shop.Item", QUANTITY_FIELD="name")
    assert found_id == "stockwire.E004" and "integer field" in message


@pytest.mark.parametrize("path", ["nowhere.levels", "stockwire.conf.DEFAULTS"])
def test_a_source_that_cannot_be_imported_or_called_is_refused(settings, path):
    [(found_id, message)] = errors(settings, SOURCE=path)
    assert found_id == "stockwire.E005" and repr(path) in message


def test_a_source_alone_is_enough(settings):
    assert ids(settings, SOURCE="tests.stockwire.test_api.warehouse_levels") == []


def test_an_unknown_key_is_a_warning_that_names_it(settings):
    [(found_id, message)] = errors(settings, MODEL="shop.Item", RESYNC_SECOND=1)
    assert found_id == "stockwire.W001" and "'RESYNC_SECOND'" in message


def test_presence_viewers_that_would_expire_between_refreshes_are_refused(settings):
    found = ids(settings, MODEL="shop.Item", PRESENCE_TTL_SECONDS=5, PRESENCE_REFRESH_SECONDS=5)
    assert found == ["stockwire.E006"]


def test_a_settings_value_that_is_not_a_dict_is_refused(settings):
    settings.STOCKWIRE = ["shop.Item"]
    assert [found.id for found in check_settings()] == ["stockwire.E001"]


def test_a_held_field_the_model_lacks_is_named(settings):
    [(found_id, message)] = errors(settings, MODEL="shop.Item", HELD_FIELD="reserved")
    assert found_id == "stockwire.E004" and "no field 'reserved'" in message


def test_holds_with_stock_read_from_a_source_are_refused(settings):
    source = "tests.stockwire.test_api.warehouse_levels"
    assert ids(settings, MODEL="shop.Item", SOURCE=source, HELD_FIELD="held") == ["stockwire.E008"]


@pytest.mark.parametrize("key", ["HOLD_SECONDS", "HOLD_SWEEP_SECONDS"])
def test_holds_that_never_last_or_a_sweep_that_never_waits_are_refused(settings, key):
    assert ids(settings, MODEL="shop.Item", HELD_FIELD="held", **{key: 0}) == ["stockwire.E009"]
