"""Stockwire's own table: holds, units an item keeps for one buyer while they decide."""

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
