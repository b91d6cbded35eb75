"""What the shop counts, for /metrics (config/health.py)."""

from prometheus_client import Counter

PURCHASES = Counter("stockwire_purchases", "Purchase attempts, by outcome.", ["outcome"])

# Every outcome is exported from the start, at 0 (as stockwire.metrics does its series).
OUTCOMES = (
    "sold",
    "replayed",
    "insufficient_stock",
    "unknown_item",
    "invalid_quantity",
    "idempotency_key_reused",
)
for _outcome in OUTCOMES:
    PURCHASES.labels(_outcome)
