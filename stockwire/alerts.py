"""Back in stock: a user waits for a sold-out item and hears once when units come back.

An alert is placed only while nothing of the item is available, under the item's row lock,
so no restock can slip between the check and the alert. Whatever change takes the item's
available from 0 to more (a restock, a hold released or expired, a stocktake) claims the
item's waiting alerts in its own transaction (stockwire.stock.change): each alert fires
once, whichever process, and a rollback fires none. After commit each of their users gets a
`back_in_stock` message on every socket; the email is sent later by the sweep of any server
process (stockwire/sweep.py), not in the request that restocked, as a mail server may be
slow. Each due alert is emailed under its row lock and marked sent in the same transaction,
and another process skips it (SKIP LOCKED), so no alert is emailed twice.

The Alert model is imported where used: this module belongs to the package's public API,
imported before Django's models are ready.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import mail
from django.db import router, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from . import publish, runtime, stock
from .errors import InStock, UnknownAlert

logger = logging.getLogger("stockwire.alerts")

# Alerts one sweep emails at most, in one transaction; the next sweep takes the rest.
SEND_BATCH = 100

SUBJECT_TEMPLATE = "stockwire/back_in_stock_subject.txt"
BODY_TEMPLATE = "stockwire/back_in_stock_email.txt"


def alert(item_id: int, *, user_id: int):
    """Have a user told when a sold-out item is available again; returns the waiting Alert
    (the one the user already has for the item, if any).

    Raises InStock (with `.available`) while the item can be bought, or UnknownItem.
    """
    from .models import Alert

    with transaction.atomic(using=router.db_for_write(Alert)):
        now = stock.locked(item_id)
        if now.available > 0:
            raise InStock(item_id, available=now.available)
        placed, _ = Alert.objects.get_or_create(
            item_id=item_id, user_id=user_id, state=Alert.State.WAITING
        )
    return placed


def cancel_alert(alert_id: int, *, user_id: int) -> None:
    """Stop waiting: the user's waiting alert will not fire. Raises UnknownAlert."""
    from .models import Alert

    with transaction.atomic(using=router.db_for_write(Alert)):
        found = (
            Alert.objects.select_for_update()
            .filter(pk=alert_id, user_id=user_id, state=Alert.State.WAITING)
            .first()
        )
        if found is None:
            raise UnknownAlert(alert_id)
        found.state = Alert.State.CANCELLED
        found.ended_at = timezone.now()
        found.save(update_fields=["state", "ended_at"])


def fire(item_id: int, available: int, *, using: str) -> int:
    """Claim the item's waiting alerts for this change, which made `available` units
    available from none; their users hear after commit. How many fired.

    Called by stock.change() in its transaction, holding the item's row lock: changes of one
    item fire one after another. A cancel racing this one is waited for (the alerts' locks).
    """
    from .models import Alert

    claimed = list(
        Alert.objects.using(using)
        .select_for_update()
        .filter(item_id=item_id, state=Alert.State.WAITING)
        .values_list("pk", "user_id")
    )
    if not claimed:
        return 0
    Alert.objects.using(using).filter(pk__in=[pk for pk, _ in claimed]).update(
        state=Alert.State.DUE, fired_at=timezone.now(), available=available, waiting=len(claimed)
    )
    users = [user for _, user in claimed]
    publish.back_in_stock(item_id, available, len(claimed), users, using=using)
    transaction.on_commit(runtime.start_in_this_process, using=using)
    logger.info("item %s is back (%d available): %d alerts fired", item_id, available, len(users))
    return len(claimed)


def send_due() -> int:
    """Email the users of fired alerts, each once; how many alerts were done.

    Alerts another process is emailing right now are skipped (SKIP LOCKED), not waited for.
    A user without an email address had the socket message only: their alert is just done.
    If the mail server fails, what it took is done, the rest stays due, and its error is
    raised, so that the sweep waits longer before the next try (stockwire/sweep.py).
    """
    from .models import Alert

    due = Alert.objects.filter(state=Alert.State.DUE)
    if not due.exists():  # the usual answer, without a transaction or a lock
        return 0
    with transaction.atomic(using=router.db_for_write(Alert)):
        batch = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .order_by("fired_at", "id")[:SEND_BATCH]
        )
        if not batch:
            return 0
        items = stock.stock_model()._default_manager.in_bulk({a.item_id for a in batch})
        done, refused = [], None
        with mail.get_connection() as connection:
            for fired in batch:
                address = fired.user.email
                if address:
                    try:
                        connection.send_messages([_email(fired, items.get(fired.item_id))])
                    except Exception as error:
                        refused = error
                        break
                done.append(fired.pk)
        Alert.objects.filter(pk__in=done).update(state=Alert.State.SENT, ended_at=timezone.now())
    logger.info("%d back-in-stock alerts done", len(done))
    if refused is not None:
        raise refused
    return len(done)


def _email(fired, item) -> mail.EmailMessage:
    """From the shop's templates when it has them (stockwire/back_in_stock_*.txt)."""
    context = {
        "item": item,
        "item_id": fired.item_id,
        "available": fired.available,
        "waiting": fired.waiting,
        "user": fired.user,
    }
    subject = " ".join(render_to_string(SUBJECT_TEMPLATE, context).split())
    body = render_to_string(BODY_TEMPLATE, context)
    return mail.EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [fired.user.email])
