"""Stockwire's own tables: holds, units an item keeps for one buyer while they decide, and
alerts, users waiting for a sold-out item to come back."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Hold(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        PURCHASED = "purchased"
        RELEASED = "released"
        EXPIRED = "expired"

    # The id of a row of STOCKWIRE["MODEL"], which the project chooses, hence no foreign key.
    item_id = models.BigIntegerField(db_index=True)
    # PROTECT: deleting a user must not leave their held units counted forever.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stockwire_holds"
    )
    quantity = models.PositiveIntegerField()
    state = models.CharField(max_length=9, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep's query: active holds by expiry, and nothing else.
            models.Index(
                fields=["expires_at"], condition=Q(state="active"), name="stockwire_hold_due"
            ),
            models.Index(fields=["user", "state"], name="stockwire_hold_user_state"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="stockwire_hold_quantity"),
        ]

    def __str__(self) -> str:
        return f"Hold #{self.pk}: {self.quantity} x item {self.item_id} for user {self.user_id}"


class Alert(models.Model):
    """A user waiting for a sold-out item: fired once when its available goes from 0 to more."""

    class State(models.TextChoices):
        WAITING = "waiting"
        # Fired: the socket message is out; the email is the sweep's to send.
        DUE = "due"
        # Done: emailed, or fired for a user without an email address.
        SENT = "sent"
        CANCELLED = "cancelled"

    # The id of a row of STOCKWIRE["MODEL"], as Hold's.
    item_id = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stockwire_alerts"
    )
    state = models.CharField(max_length=9, choices=State.choices, default=State.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    # When it fired: the units that came back, and how many alerts of the item fired with it.
    available = models.PositiveIntegerField(null=True, blank=True)
    waiting = models.PositiveIntegerField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # What a restock claims: an item's waiting alerts.
            models.Index(
                fields=["item_id"], condition=Q(state="waiting"), name="stockwire_alert_waiting"
            ),
            # The sweep's query: fired alerts whose email is not sent yet.
            models.Index(fields=["fired_at"], condition=Q(state="due"), name="stockwire_alert_due"),
            models.Index(fields=["user", "state"], name="stockwire_alert_user_state"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "item_id"],
                condition=Q(state="waiting"),
                name="stockwire_alert_one_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"Alert #{self.pk}: item {self.item_id} for user {self.user_id} ({self.state})"
