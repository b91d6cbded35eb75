"""The shop's data: items with a versioned stock level, orders, and the stock audit trail.

Stock is changed only by shop.services, which keeps quantity, held, version and movements in
step; units held for buyers are Stockwire's holds (stockwire.models.Hold).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Item(models.Model):
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    # Units on hand, and how many of them are held for buyers deciding (STOCKWIRE's
    # QUANTITY_FIELD and HELD_FIELD); the rest are available to anyone.
    quantity = models.IntegerField("on hand", default=0)
    held = models.IntegerField(default=0)
    # Grows by one with every change of either, so clients can drop late or repeated updates.
    version = models.BigIntegerField(default=1)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="item_quantity_not_negative"),
            models.CheckConstraint(
                condition=Q(held__gte=0, held__lte=F("quantity")), name="item_held_within_on_hand"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="item_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    @property
    def available(self) -> int:
        """What a buyer without a hold can buy now."""
        return self.quantity - self.held


class Order(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="orders")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The client's Idempotency-Key: a retry with the same key finds this order, not a new one.
    # NULL, not "", for "no key": the unique constraint below leaves NULLs out.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="order_user_newest")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_one_per_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}: {self.quantity} x {self.item_id} for user {self.user_id}"


class StockMovement(models.Model):
    class Reason(models.TextChoices):
        PURCHASE = "purchase"
        RESTOCK = "restock"
        ADJUST = "adjust"

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="movements")
    delta = models.IntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    quantity_after = models.IntegerField()
    held_after = models.IntegerField(default=0)
    version = models.BigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="movement"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="movement_one_per_version"),
            models.CheckConstraint(
                condition=Q(quantity_after__gte=0), name="movement_quantity_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.delta:+d} on item {self.item_id} -> v{self.version}"
