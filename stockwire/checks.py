"""System checks: a misconfigured STOCKWIRE is named at startup, not at the first sale."""

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.module_loading import import_string

from .conf import DEFAULTS, stockwire_settings

INTEGER_FIELDS = (models.IntegerField, models.BigIntegerField, models.PositiveIntegerField)


@checks.register()
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    configured = getattr(settings, "STOCKWIRE", {})
    if not isinstance(configured, dict):
        return [checks.Error("STOCKWIRE must be a dict.", id="stockwire.E001")]
    found: list[checks.CheckMessage] = [
        checks.Warning(
            f"STOCKWIRE has an unknown key {key!r}; it is ignored.",
            hint=f"Known keys: {', '.join(DEFAULTS)}.",
            id="stockwire.W001",
        )
        for key in configured
        if key not in DEFAULTS
    ]
    model, source = stockwire_settings.MODEL, stockwire_settings.SOURCE
    if not model and not source:
        found.append(
            checks.Error(
                "Stockwire does not know where stock lives.",
                hint='Set STOCKWIRE["MODEL"] ("app_label.Model") or STOCKWIRE["SOURCE"] '
                "(a dotted path to levels(ids) -> {id: (quantity, version)}).",
                id="stockwire.E002",
            )
        )
    if model:
        found += _check_model(model)
    if source:
        found += _check_source(source)
    ttl, refresh = (
        stockwire_settings.PRESENCE_TTL_SECONDS,
        stockwire_settings.PRESENCE_REFRESH_SECONDS,
    )
    if not 0 < refresh < ttl:
        found.append(
            checks.Error(
                f"PRESENCE_REFRESH_SECONDS ({refresh}) must be above 0 and below "
                f"PRESENCE_TTL_SECONDS ({ttl}): viewers would expire between refreshes.",
                id="stockwire.E006",
            )
        )
    if not stockwire_settings.RESYNC_SECONDS > 0:
        found.append(checks.Error("RESYNC_SECONDS must be above 0.", id="stockwire.E007"))
    if stockwire_settings.HELD_FIELD and (source or not model):
        found.append(
            checks.Error(
                'STOCKWIRE["HELD_FIELD"] needs stock on MODEL, read from it: without SOURCE.',
                hint="Holds change MODEL's rows; a SOURCE would show stock without them.",
                id="stockwire.E008",
            )
        )
    for key in ("HOLD_SECONDS", "HOLD_SWEEP_SECONDS"):
        if not getattr(stockwire_settings, key) > 0:
            found.append(checks.Error(f"{key} must be above 0.", id="stockwire.E009"))
    return found


def _check_model(label) -> list[checks.CheckMessage]:
    try:
        model = apps.get_model(label)
    except (ValueError, LookupError) as error:
        return [
            checks.Error(
                f'STOCKWIRE["MODEL"] is {label!r}: no such model ({error}).',
                hint='Name an installed model as "app_label.Model".',
                id="stockwire.E003",
            )
        ]
    found = []
    keys = ["QUANTITY_FIELD", "VERSION_FIELD"]
    if stockwire_settings.HELD_FIELD:
        keys.append("HELD_FIELD")
    for key in keys:
        name = getattr(stockwire_settings, key)
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            found.append(
                checks.Error(
                    f'{model._meta.label} has no field {name!r} (STOCKWIRE["{key}"]).',
                    hint="Add the field, or name the one that holds it.",
                    id="stockwire.E004",
                )
            )
            continue
        if not isinstance(field, INTEGER_FIELDS):
            found.append(
                checks.Error(
                    f"{model._meta.label}.{name} is a {type(field).__name__}; "
                    f'STOCKWIRE["{key}"] must name an integer field.',
                    id="stockwire.E004",
                )
            )
    return found


def _check_source(path) -> list[checks.CheckMessage]:
    try:
        source = import_string(path)
    except ImportError as error:
        return [
            checks.Error(
                f'STOCKWIRE["SOURCE"] is {path!r}, which cannot be imported: {error}',
                id="stockwire.E005",
            )
        ]
    if not callable(source):
        return [
            checks.Error(
                f'STOCKWIRE["SOURCE"] is {path!r}, which is not callable.',
                hint="Name a function levels(ids) -> {id: (quantity, version)}.",
                id="stockwire.E005",
            )
        ]
    return []
