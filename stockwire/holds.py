"""Holds: units of an item kept for one buyer while they decide, for HOLD_SECONDS.

Placing a hold moves units from available to held in the item's row, with the same kind of
conditional UPDATE as a sale, so nothing is held that is not on hand; a Hold row says whose
they are and until when. A hold ends one way only: its buyer takes its units (take with
`hold=`), releases it, or it expires, and then a sweep in any server process returns its
units within a second. Every ending changes only an active hold, under its row lock, so
each hold's units come back or go out exactly once, with one process or many.

The Hold model is imported where used: this module belongs to the package's public API,
imported before Django's models are ready.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.utils import timezone

from . import runtime, stock
from .conf import stockwire_settings
from .errors import HoldExpired, HoldLimitReached, HoldMismatch, UnknownHold

logger = logging.getLogger("stockwire.holds")

# Holds one sweep ends at most, in one transaction; the next sweep takes the rest.
SWEEP_BATCH = 500


def hold(item_id: int, quantity: int, *, user_id: int):
    """Keep `quantity` available units of an item for a user for HOLD_SECONDS.

    Returns (the Hold, the item's Stock after). Raises OutOfStock, UnknownItem, or
    HoldLimitReached past the user's limits, without changing anything.
    """
    from .models import Hold

    stock.check_quantity(quantity)
    if not stockwire_settings.HELD_FIELD:
        raise ImproperlyConfigured(
            'Holds need STOCKWIRE["HELD_FIELD"]: an integer field of MODEL for the units held.'
        )
    with transaction.atomic(using=router.db_for_write(Hold)):
        _lock_user(user_id)
        _check_limits(user_id, item_id, quantity)
        after = stock.change(item_id, held=quantity, needs_available=quantity)
        placed = Hold.objects.create(
            item_id=item_id,
            user_id=user_id,
            quantity=quantity,
            expires_at=timezone.now() + timedelta(seconds=stockwire_settings.HOLD_SECONDS),
        )
    runtime.start_in_this_process()
    return placed, after


def release(hold_id: int, *, user_id: int) -> stock.Stock:
    """End a user's active hold and return its units; the item's Stock after."""
    from .models import Hold

    with transaction.atomic(using=router.db_for_write(Hold)):
        ended = _active_hold(hold_id, user_id)
        _end(ended, Hold.State.RELEASED)
        return stock.change(ended.item_id, held=-ended.quantity)


def take_held(item_id: int, quantity: int, *, hold_id: int, user_id: int) -> stock.Stock:
    """Sell `quantity` units of a user's hold to them; the rest of the hold is returned.

    Raises UnknownHold, HoldExpired once its time is up (the sweep returns its units), or
    HoldMismatch for another item or more units than it holds.
    """
    from .models import Hold

    with transaction.atomic(using=router.db_for_write(Hold)):
        held = _active_hold(hold_id, user_id)
        if held.item_id != item_id or quantity > held.quantity:
            raise HoldMismatch(hold_id, item_id=held.item_id, quantity=held.quantity)
        if held.expires_at <= timezone.now():
            raise HoldExpired(hold_id)
        _end(held, Hold.State.PURCHASED)
        return stock.change(item_id, on_hand=-quantity, held=-held.quantity)


def expire_due() -> int:
    """Return the units of holds whose time is up; how many holds ended.

    Holds another process is ending right now are skipped (SKIP LOCKED), not waited for.
    """
    from .models import Hold

    now = timezone.now()
    due = Hold.objects.filter(state=Hold.State.ACTIVE, expires_at__lte=now)
    if not due.exists():  # the usual answer, without a transaction or a lock
        return 0
    with transaction.atomic(using=router.db_for_write(Hold)):
        due = list(
            due.select_for_update(skip_locked=True)
            .order_by("expires_at")
            .values_list("pk", "item_id", "quantity")[:SWEEP_BATCH]
        )
        if not due:
            return 0
        Hold.objects.filter(pk__in=[pk for pk, _, _ in due]).update(
            state=Hold.State.EXPIRED, ended_at=now
        )
        returned: dict[int, int] = {}
        for _, item_id, quantity in due:
            returned[item_id] = returned.get(item_id, 0) + quantity
        for item_id, quantity in sorted(returned.items()):
            stock.change(item_id, held=-quantity)
    logger.info("expired %d holds of %d items", len(due), len(returned))
    return len(due)


def _active_hold(hold_id: int, user_id: int):
    """The user's active hold, locked until the transaction ends; UnknownHold otherwise."""
    from .models import Hold

    found = (
        Hold.objects.select_for_update()
        .filter(pk=hold_id, user_id=user_id, state=Hold.State.ACTIVE)
        .first()
    )
    if found is None:
        raise UnknownHold(hold_id)
    return found


def _end(ended, state: str) -> None:
    ended.state = state
    ended.ended_at = timezone.now()
    ended.save(update_fields=["state", "ended_at"])


def _lock_user(user_id: int) -> None:
    """One user's holds are placed one at a time, so two at once cannot both pass the limits."""
    users = get_user_model()._default_manager
    list(users.select_for_update().filter(pk=user_id).values_list("pk"))


def _check_limits(user_id: int, item_id: int, quantity: int) -> None:
    from .models import Hold

    active = Hold.objects.filter(
        user_id=user_id, state=Hold.State.ACTIVE, expires_at__gt=timezone.now()
    ).values_list("item_id", "quantity")
    total = of_item = 0
    for held_item, held in active:
        total += held
        if held_item == item_id:
            of_item += held
    per_item, in_all = stockwire_settings.HOLD_LIMIT_PER_ITEM, stockwire_settings.HOLD_LIMIT_TOTAL
    if of_item + quantity > per_item:
        raise HoldLimitReached(
            f"You may hold {per_item} units of an item; you hold {of_item} of item {item_id}.",
            limit=per_item,
        )
    if total + quantity > in_all:
        raise HoldLimitReached(
            f"You may hold {in_all} units in all; you hold {total}.", limit=in_all
        )
